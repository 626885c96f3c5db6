"""Models (collection `models`, one document per model) and last prices (collection `prices`, one
document per symbol) as the evaluation reads them.

`one_snapshot()` scopes a batch: inside it (this task and what it awaits, by context variable)
each model and price is read from the store once and then served from memory, so a batch of
500 evaluations of one model costs two store reads, not a thousand. Outside it every read goes to
the store, as a single message's evaluation always did.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from rebal_optimizer.adapters.domain_json import model_json, model_of, price_json, price_of
from rebal_optimizer.domain import ModelPortfolio, Price
from rebal_runtime.store import Document, DocumentStore
from rebal_runtime.uow import Change, apply_once
from rebal_schemas import Event

MODELS = "models"
PRICES = "prices"


@dataclass
class _Snapshot:
    models: dict[str, ModelPortfolio | None] = field(default_factory=dict)
    prices: dict[str, Price | None] = field(default_factory=dict)  # None: no price known


_snapshot: ContextVar[_Snapshot | None] = ContextVar("reference_snapshot", default=None)


@contextmanager
def one_snapshot() -> Iterator[None]:
    token = _snapshot.set(_Snapshot())
    try:
        yield
    finally:
        _snapshot.reset(token)


def model_document(model: ModelPortfolio) -> dict[str, Any]:
    """The model as the client last sent it, its status as governed, and the symbols that made it
    `needs_adjustment` (`non_tradable`)."""
    return model_json(model)


async def load_model(store: DocumentStore, model_id: str) -> ModelPortfolio | None:
    snapshot = _snapshot.get()
    if snapshot is not None and model_id in snapshot.models:
        return snapshot.models[model_id]
    doc = await store.load(MODELS, model_id)
    model = model_of(doc.state) if doc is not None else None
    if snapshot is not None:
        snapshot.models[model_id] = model
    return model


async def load_prices(store: DocumentStore, symbols: Iterable[str]) -> dict[str, Price]:
    """Last known price per symbol; symbols without one are simply absent (PRICE_MISSING)."""
    wanted = set(symbols)
    snapshot = _snapshot.get()
    known = snapshot.prices if snapshot is not None else {}
    missing = sorted(wanted - known.keys())
    if missing:
        docs = await store.load_many(PRICES, missing)
        read = {s: price_of(docs[s].state) if s in docs else None for s in missing}
        if snapshot is None:
            known = read
        else:
            known.update(read)
    return {s: price for s in wanted if (price := known.get(s)) is not None}


class StoreReferenceData:
    """The service layer's `ReferenceData` port over collections `models` and `prices`."""

    def __init__(self, store: DocumentStore) -> None:
        self.store = store

    def snapshot(self) -> AbstractContextManager[None]:
        return one_snapshot()

    async def model(self, model_id: str) -> ModelPortfolio | None:
        return await load_model(self.store, model_id)

    async def has_model(self, model_id: str) -> bool:
        return await self.store.load(MODELS, model_id) is not None

    async def prices(self, symbols: Iterable[str]) -> dict[str, Price]:
        return await load_prices(self.store, symbols)

    async def save_price(self, symbol: str, quote: Price, event_id: str) -> bool:
        async def mutate(doc: Document | None) -> Change | None:
            if doc is not None and price_of(doc.state).as_of >= quote.as_of:
                return None  # an older or equal quote never replaces the last one
            return Change({"symbol": symbol, **price_json(quote)})

        return await apply_once(self.store, PRICES, symbol, event_id, mutate)

    async def model_ids(self, *, after: str | None, limit: int) -> list[str]:
        return await self.store.scan(MODELS, after_id=after, limit=limit)

    async def save_model(
        self,
        model: ModelPortfolio,
        event_id: str,
        write: Callable[[ModelPortfolio | None], tuple[ModelPortfolio, list[Event]]],
    ) -> bool:
        async def mutate(doc: Document | None) -> Change:
            previous = model_of(doc.state) if doc is not None else None
            stored, publish = write(previous)
            return Change(model_document(stored), publish=publish)

        return await apply_once(self.store, MODELS, model.model_id, event_id, mutate)

    async def change_model(
        self,
        model_id: str,
        change: Callable[[ModelPortfolio], tuple[ModelPortfolio, list[Event]] | None],
    ) -> None:
        async def mutate(doc: Document | None) -> Change | None:
            if doc is None:
                return None
            changed = change(model_of(doc.state))
            if changed is None:
                return None
            model, publish = changed
            return Change(model_document(model), publish=publish)

        await apply_once(self.store, MODELS, model_id, None, mutate)
