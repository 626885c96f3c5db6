"""Models (collection `models`, one document per model) and last prices (collection `prices`, one
document per symbol) as the evaluation reads them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from rebal_optimizer.adapters.domain_json import model_json, model_of, price_of
from rebal_optimizer.domain import ModelPortfolio, Price
from rebal_runtime.store import DocumentStore

MODELS = "models"
PRICES = "prices"
PRICE_LOAD_CONCURRENCY = 64


def model_document(model: ModelPortfolio, non_tradable: Iterable[str] = ()) -> dict[str, Any]:
    """The model as the client last sent it, plus the symbols that made it `needs_adjustment`."""
    return {**model_json(model), "non_tradable": sorted(non_tradable)}


async def load_model(store: DocumentStore, model_id: str) -> ModelPortfolio | None:
    doc = await store.load(MODELS, model_id)
    return model_of(doc.state) if doc is not None else None


async def load_prices(store: DocumentStore, symbols: Iterable[str]) -> dict[str, Price]:
    """Last known price per symbol; symbols without one are simply absent (PRICE_MISSING)."""
    wanted = sorted(set(symbols))
    prices: dict[str, Price] = {}
    for start in range(0, len(wanted), PRICE_LOAD_CONCURRENCY):
        chunk = wanted[start : start + PRICE_LOAD_CONCURRENCY]
        docs = await asyncio.gather(*(store.load(PRICES, symbol) for symbol in chunk))
        for symbol, doc in zip(chunk, docs, strict=True):
            if doc is not None:
                prices[symbol] = price_of(doc.state)
    return prices
