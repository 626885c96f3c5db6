"""What the service layer needs from storage, as ports: implemented in `adapters/`, wired in
`bootstrap.py`. The service layer imports no adapter.

- `PortfolioDocuments`: how a `PortfolioAccount` maps to and from its store document (with the
  decision records not yet copied to the history) and its index values;
- `PortfolioQueries`: the portfolio ids the handlers look up by index (subscribers of a model,
  expired advisory optimizations, portfolios waiting for a price, blocked portfolios);
- `ReferenceData`: models and last prices as an evaluation reads them, and their writes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from rebal_optimizer.domain import ModelPortfolio, Optimization, PortfolioAccount, Price
from rebal_schemas import Event

Json = dict[str, Any]
Index = dict[str, str | int | None]


class PortfolioDocuments(Protocol):
    """One store document per portfolio account (collection `collection`)."""

    @property
    def collection(self) -> str: ...

    def read(self, state: Json) -> tuple[PortfolioAccount, tuple[Json, ...]]:
        """The account and the decision records kept in the document for the history."""
        ...

    def write(self, account: PortfolioAccount, pending_history: Sequence[Json]) -> Json: ...

    def index(self, account: PortfolioAccount) -> Index: ...

    def optimization(self, optimization: Optimization) -> Json:
        """An optimization as the decision-record history keeps it."""
        ...


class PortfolioQueries(Protocol):
    """Pages of portfolio ids, in id order, after `after` (exclusive)."""

    async def all(self, *, after: str | None, limit: int) -> list[str]: ...

    async def subscribers(self, model_id: str, *, after: str | None, limit: int) -> list[str]: ...

    async def expired(self, now: datetime, *, after: str | None, limit: int) -> list[str]:
        """Portfolios whose advisory optimization expires at or before `now`."""
        ...

    async def waiting(self, token: str, *, after: str | None, limit: int) -> list[str]:
        """Portfolios waiting for `token` (`price:SPY`, `model:m`)."""
        ...

    async def blocked(self, *, after: str | None, limit: int) -> list[str]:
        """Portfolios blocked by a READY optimization."""
        ...


# Called with the model stored before (None: new); returns the events to publish with the write.
ModelWrite = Callable[[ModelPortfolio | None], list[Event]]
# Called with the stored model; returns it changed and its non-tradable symbols, or None.
ModelChange = Callable[[ModelPortfolio], tuple[ModelPortfolio, Sequence[str]] | None]


class ReferenceData(Protocol):
    def snapshot(self) -> AbstractContextManager[None]:
        """Inside it, each model and price is read from the store once (a batch)."""
        ...

    async def model(self, model_id: str) -> ModelPortfolio | None: ...

    async def has_model(self, model_id: str) -> bool: ...

    async def prices(self, symbols: Iterable[str]) -> dict[str, Price]:
        """Last known price per symbol; symbols without one are absent."""
        ...

    async def save_price(self, symbol: str, quote: Price, event_id: str) -> bool:
        """Store the quote unless an older-or-equal one would replace the last; exactly once
        per event id. True when this call applied the event."""
        ...

    async def save_model(self, model: ModelPortfolio, event_id: str, publish: ModelWrite) -> bool:
        """Store the model as sent, with `publish(previous)` in the same write, once."""
        ...

    async def change_model(self, model_id: str, change: ModelChange) -> None: ...


@dataclass(frozen=True)
class StorePorts:
    documents: PortfolioDocuments
    queries: PortfolioQueries
    reference: ReferenceData
