"""The `Prices` port over the runtime's store: one small document per symbol (collection
`last_prices`) with its last price and the `as_of` it was quoted at.

An update older than the known one is ignored, so redelivered and reordered market.prices
records are harmless without an inbox (none is kept: a price document stays small).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from rebal_runtime.repository import DocumentMapper, Outcome, Repository
from rebal_runtime.store import DocumentStore

COLLECTION = "last_prices"


@dataclass(frozen=True)
class LastPrice:
    price: Decimal
    as_of: datetime


def _to_doc(last: LastPrice) -> dict[str, Any]:
    return {"price": format(last.price, "f"), "as_of": last.as_of.isoformat()}


def _from_doc(doc: dict[str, Any]) -> LastPrice:
    return LastPrice(Decimal(doc["price"]), datetime.fromisoformat(doc["as_of"]))


class PriceStore:
    def __init__(self, store: DocumentStore) -> None:
        self._store = store
        self.prices = Repository(store, COLLECTION, DocumentMapper(_to_doc, _from_doc))

    async def record(self, symbol: str, price: Decimal, as_of: datetime) -> bool:
        quote = LastPrice(price, as_of)

        def keep_newest(current: LastPrice | None) -> Outcome[LastPrice] | None:
            if current is not None and current.as_of >= as_of:
                return None
            return Outcome(quote)

        return await self.prices.update(symbol, None, keep_newest) is not None

    async def last_prices(self, symbols: Collection[str]) -> dict[str, Decimal]:
        wanted = sorted(set(symbols))
        if not wanted:
            return {}
        docs = await self._store.load_many(COLLECTION, wanted)
        return {symbol: _from_doc(doc.state).price for symbol, doc in docs.items()}
