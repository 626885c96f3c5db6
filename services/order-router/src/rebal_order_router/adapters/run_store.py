"""The run repository over the runtime's DocumentStore: runs, client_order_id -> run refs, and
the trade-update stream cursor.

Every write of a run goes through `apply_once`, so the new state, its index values and the
events to publish are one atomic commit (docs/design.md §4), retried on a version conflict.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from rebal_order_router.adapters.run_documents import (
    COLLECTION,
    DONE_DAY,
    NEEDS_DISPATCH,
    OPEN,
    StoredRun,
    run_from_doc,
    run_index,
    run_to_doc,
)
from rebal_runtime.store import Document, DocumentStore
from rebal_runtime.uow import Change, apply_once
from rebal_schemas import Event

CLIENT_ORDER_REFS = "client_order_refs"
CURSORS = "stream_cursors"
_PAGE = 500

RunStep = Callable[[StoredRun], tuple[StoredRun, Sequence[Event]] | None]
"""Pure step on a stored run: the new run and the events to publish, or None for no change."""


class RunStore:
    def __init__(self, store: DocumentStore) -> None:
        self.store = store

    async def get(self, run_id: str) -> StoredRun | None:
        doc = await self.store.load(COLLECTION, run_id)
        return run_from_doc(doc.state) if doc is not None else None

    async def create(self, stored: StoredRun, cause_event_id: str) -> bool:
        """Store a new run (inbox: `cause_event_id`). False if a run with this id exists.

        The client_order_id refs are written first: once a run exists, every report about its
        orders can be routed to it. Refs without a run (crash in between) are harmless.
        """
        for order in stored.run.orders:
            await self.store.append(
                CLIENT_ORDER_REFS, order.client_order_id, {"run_id": stored.run.run_id}
            )
        created = False

        async def mutate(doc: Document | None) -> Change | None:
            nonlocal created
            if doc is not None:
                created = False
                return None
            created = True
            return Change(run_to_doc(stored), index=run_index(stored))

        await apply_once(self.store, COLLECTION, stored.run.run_id, cause_event_id, mutate)
        return created

    async def update(self, run_id: str, step: RunStep) -> StoredRun | None:
        """Apply `step` to the current run and commit; returns the run as it now stands."""
        latest: StoredRun | None = None

        async def mutate(doc: Document | None) -> Change | None:
            nonlocal latest
            if doc is None:
                latest = None
                return None
            current = run_from_doc(doc.state)
            outcome = step(current)
            if outcome is None:
                latest = current
                return None
            latest, events = outcome
            return Change(run_to_doc(latest), publish=list(events), index=run_index(latest))

        await apply_once(self.store, COLLECTION, run_id, None, mutate)
        return latest

    async def run_of(self, client_order_id: str) -> str | None:
        ref = await self.store.get_appended(CLIENT_ORDER_REFS, client_order_id)
        run_id = ref.get("run_id") if ref else None
        return run_id if isinstance(run_id, str) else None

    async def runs_needing_dispatch(self) -> list[str]:
        return await self._all(NEEDS_DISPATCH)

    async def open_runs(self) -> list[str]:
        return await self._all(OPEN)

    async def runs_done_on(self, day: int) -> list[str]:
        """Runs whose last order became final on UTC day `day` (YYYYMMDD)."""
        return await self._all(DONE_DAY, day)

    async def _all(self, field: str, value: int = 1) -> list[str]:
        ids: list[str] = []
        after: str | None = None
        while True:
            page = await self.store.query(COLLECTION, field, value, after_id=after, limit=_PAGE)
            ids.extend(page)
            if len(page) < _PAGE:
                return ids
            after = page[-1]

    async def load_cursor(self, name: str) -> str | None:
        doc = await self.store.load(CURSORS, name)
        value: Any = doc.state.get("last_event_id") if doc else None
        return value if isinstance(value, str) else None

    async def save_cursor(self, name: str, last_event_id: str) -> None:
        async def mutate(doc: Document | None) -> Change:
            return Change({"last_event_id": last_event_id})

        await apply_once(self.store, CURSORS, name, None, mutate)
