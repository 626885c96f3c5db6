"""What the service layer needs from storage, as ports: implemented in `adapters/`, wired in
`bootstrap.py`. The service layer imports no adapter.

- `PortfolioDocuments`: the runtime `Mapper` of a `StoredPortfolio` (the account and the decision
  records not yet copied to the history) to and from its store document, and its index values;
- `PortfolioQueries`: the portfolio ids the handlers and the stale-block alarm look up by index
  (subscribers of a model, expired advisory optimizations, portfolios waiting for a price,
  blocked portfolios, blocked since before a moment);
- `ReferenceData`: models and last prices as an evaluation reads them, and their writes;
- `AccountClaims`: the portfolio holding each account's one subscription (domain/account_claim.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from rebal_optimizer.domain import ModelPortfolio, Optimization, PortfolioAccount, Price
from rebal_runtime.repository import Mapper
from rebal_schemas import Event

Json = dict[str, Any]


@dataclass(frozen=True)
class StoredPortfolio:
    """What one portfolio document holds: the account, and the decision records it keeps until
    they are known to be in the append-only history (`unit_of_work.py`)."""

    account: PortfolioAccount
    pending_history: tuple[Json, ...] = ()


class PortfolioDocuments(Mapper[StoredPortfolio], Protocol):
    """One store document per portfolio account (collection `collection`)."""

    @property
    def collection(self) -> str: ...

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

    async def blocked(
        self, *, after: str | None, limit: int, at_or_before: datetime | None = None
    ) -> list[str]:
        """Portfolios blocked by a READY optimization (`at_or_before`: blocked then or earlier)."""
        ...

    async def subscribed(self, account_id: str, *, after: str | None, limit: int) -> list[str]:
        """Active portfolios of the account that follow a model."""
        ...

    async def subscriptions_due(self, now: datetime, *, after: str | None, limit: int) -> list[str]:
        """Portfolios whose subscription to a model not read yet ends its grace by `now`."""
        ...


# Called with the model stored before (None: new); returns the model to store (the previous one
# to keep it) and the events to publish with the write.
ModelWrite = Callable[[ModelPortfolio | None], tuple[ModelPortfolio, list[Event]]]
# Called with the stored model; returns it changed and the events to publish, or None.
ModelChange = Callable[[ModelPortfolio], tuple[ModelPortfolio, list[Event]] | None]


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

    async def model_ids(self, *, after: str | None, limit: int) -> list[str]:
        """Every stored model's id, in pages."""
        ...

    async def save_model(self, model: ModelPortfolio, event_id: str, write: ModelWrite) -> bool:
        """Store what `write(previous)` returns with its events in the same write, once per
        event id."""
        ...

    async def change_model(self, model_id: str, change: ModelChange) -> None: ...


class AccountClaims(Protocol):
    async def claim(
        self,
        account_id: str,
        portfolio_id: str,
        now: datetime,
        subscribed: Callable[[str], Awaitable[bool]],
    ) -> str | None:
        """Take the account's claim for `portfolio_id`; the other portfolio that keeps it, if
        any (then nothing is written). `subscribed(holder)`: whether the holder is subscribed."""
        ...

    async def release(self, account_id: str, portfolio_id: str, now: datetime) -> None:
        """Give up the claim, if `portfolio_id` holds it."""
        ...


@dataclass(frozen=True)
class StorePorts:
    documents: PortfolioDocuments
    queries: PortfolioQueries
    reference: ReferenceData
    claims: AccountClaims
