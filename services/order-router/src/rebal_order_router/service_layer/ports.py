"""What the service layer needs of the order-router's storage (adapters/run_store.py is the
implementation over the runtime's store): runs, client_order_id -> run refs, the trade-update
stream cursor, and the store itself for the runs' leases."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from rebal_order_router.domain import StoredRun
from rebal_runtime.store import DocumentStore
from rebal_schemas import Event

RunStep = Callable[[StoredRun], tuple[StoredRun, Sequence[Event]] | None]
"""Pure step on a stored run: the new run and the events to publish, or None for no change."""


class Runs(Protocol):
    @property
    def store(self) -> DocumentStore:
        """The store the runs live in (the run leases are taken there)."""
        ...

    async def get(self, run_id: str) -> StoredRun | None: ...

    async def create(self, stored: StoredRun, cause_event_id: str) -> bool:
        """Store a new run (inbox: `cause_event_id`). False if a run with this id exists."""
        ...

    async def update(self, run_id: str, step: RunStep) -> StoredRun | None:
        """Apply `step` to the current run and commit; returns the run as it now stands."""
        ...

    async def run_of(self, client_order_id: str) -> str | None: ...

    async def runs_needing_dispatch(self) -> list[str]: ...

    async def open_runs(self) -> list[str]: ...

    async def runs_done_on(self, day: int) -> list[str]:
        """Runs whose last order became final on UTC day `day` (YYYYMMDD)."""
        ...

    async def load_cursor(self, name: str) -> str | None: ...

    async def save_cursor(self, name: str, last_event_id: str) -> None: ...
