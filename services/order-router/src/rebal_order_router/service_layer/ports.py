"""What the service layer needs of the order-router's storage (adapters/run_store.py and
adapters/price_store.py implement it over the runtime's store): runs, client_order_id -> run
refs, the cancels kept for runs not stored yet, the trade-update stream cursor, the store itself
for the runs' leases, and the last price of each symbol."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from rebal_order_router.domain import PendingCancels, StoredRun
from rebal_runtime.store import DocumentStore
from rebal_schemas import Event

RunStep = Callable[[StoredRun], tuple[StoredRun, Sequence[Event]] | None]
"""Pure step on a stored run: the new run and the events to publish, or None for no change."""

PendingCancelsStep = Callable[[PendingCancels], PendingCancels]
"""Pure step on the kept cancels: what they become."""


NewRun = tuple[StoredRun, str, Sequence[Event]]
"""A run to create: the run, the event id that causes it (its inbox), what its creation publishes."""


class Runs(Protocol):
    @property
    def store(self) -> DocumentStore:
        """The store the runs live in (the run leases are taken there)."""
        ...

    async def get(self, run_id: str) -> StoredRun | None: ...

    async def create(
        self, stored: StoredRun, cause_event_id: str, publish: Sequence[Event] = ()
    ) -> bool:
        """Store a new run (inbox: `cause_event_id`) and publish `publish` in the same commit.
        False if a run with this id exists."""
        ...

    async def create_many(self, runs: Sequence[NewRun]) -> list[bool]:
        """`create` for each run, in order, as one write of them all; whether each was new."""
        ...

    async def update(self, run_id: str, step: RunStep) -> StoredRun | None:
        """Apply `step` to the current run and commit; returns the run as it now stands."""
        ...

    async def update_many(self, steps: Mapping[str, RunStep]) -> dict[str, StoredRun | None]:
        """`update` for each run (one step per run id), as one store read and one write;
        each run as it now stands."""
        ...

    async def run_of(self, client_order_id: str) -> str | None: ...

    async def runs_needing_dispatch(self) -> list[str]: ...

    async def runs_needing_dispatch_after(self, after: str | None, limit: int) -> list[str]:
        """At most `limit` of the runs needing dispatch, by id, those after `after` only."""
        ...

    async def queued_runs(self) -> list[str]:
        """Runs waiting for the execution window (QUEUED)."""
        ...

    async def open_runs(self) -> list[str]: ...

    async def runs_done_on(self, day: int) -> list[str]:
        """Runs whose last order became final on UTC day `day` (YYYYMMDD)."""
        ...

    async def pending_cancels(self) -> PendingCancels:
        """The cancels kept for runs not stored yet, expired ones included (the caller's clock
        tells them apart)."""
        ...

    async def update_pending_cancels(self, step: PendingCancelsStep) -> None:
        """Apply `step` to the kept cancels and commit (re-run on a version conflict)."""
        ...

    async def load_cursor(self, name: str) -> str | None: ...

    async def save_cursor(self, name: str, last_event_id: str) -> None: ...


class Prices(Protocol):
    """The last price of each symbol, from market.prices."""

    async def record(self, symbol: str, price: Decimal, as_of: datetime) -> bool:
        """Keep `price` unless a newer one (by `as_of`) is known; True when it was kept."""
        ...

    async def last_prices(self, symbols: Collection[str]) -> dict[str, Decimal]:
        """The known last prices of `symbols` (a symbol never priced is absent)."""
        ...
