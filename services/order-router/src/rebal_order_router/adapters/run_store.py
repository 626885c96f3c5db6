"""The `Runs` port over the runtime's typed repository: runs, client_order_id -> run refs, the
cancels kept for runs not stored yet (`adapters/pending_cancels.py`), and the trade-update
stream cursor.

Every write of a run goes through `Repository.update`, so the new state, its index values and
the events to publish are one atomic commit (docs/design.md §4), retried on a version conflict.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rebal_order_router.adapters.pending_cancels import (
    DOCUMENT_ID,
    PENDING_CANCELS_COLLECTION,
    PENDING_CANCELS_MAPPER,
)
from rebal_order_router.adapters.run_documents import (
    COLLECTION,
    DONE_DAY,
    NEEDS_DISPATCH,
    OPEN,
    QUEUED,
    RUN_MAPPER,
)
from rebal_order_router.domain import PendingCancels, StoredRun
from rebal_order_router.service_layer.ports import NewRun, PendingCancelsStep, RunStep
from rebal_runtime.repository import DocumentMapper, Outcome, Repository, Step, Work
from rebal_runtime.store import DocumentStore
from rebal_schemas import Event

CLIENT_ORDER_REFS = "client_order_refs"
CURSORS = "stream_cursors"


def _cursor_to(last_event_id: str | None) -> dict[str, Any]:
    return {"last_event_id": last_event_id}


def _cursor_from(state: dict[str, Any]) -> str | None:
    value: Any = state.get("last_event_id")
    return value if isinstance(value, str) else None


class RunStore:
    def __init__(self, store: DocumentStore) -> None:
        self._store = store
        self.runs = Repository(store, COLLECTION, RUN_MAPPER)
        self.cursors: Repository[str | None] = Repository(
            store, CURSORS, DocumentMapper(_cursor_to, _cursor_from)
        )
        self.pending = Repository(store, PENDING_CANCELS_COLLECTION, PENDING_CANCELS_MAPPER)

    @property
    def store(self) -> DocumentStore:
        return self._store

    async def get(self, run_id: str) -> StoredRun | None:
        return await self.runs.load(run_id)

    async def create(
        self, stored: StoredRun, cause_event_id: str, publish: Sequence[Event] = ()
    ) -> bool:
        """Store a new run (inbox: `cause_event_id`) with the events its creation publishes, in
        one commit. False if a run with this id exists (nothing is published then).

        The client_order_id refs are written first: once a run exists, every report about its
        orders can be routed to it. Refs without a run (crash in between) are harmless.
        """
        return (await self.create_many([(stored, cause_event_id, publish)]))[0]

    async def create_many(self, runs: Sequence[NewRun]) -> list[bool]:
        """`create` for each run, in order: one commit of every ref, then one store read and
        one write of the runs (`Repository.update_many`)."""
        refs = [
            (o.client_order_id, {"run_id": stored.run.run_id})
            for stored, _, _ in runs
            for o in stored.run.orders
        ]
        await self._store.append_many(CLIENT_ORDER_REFS, refs)  # one commit for all of them

        def create_absent(stored: StoredRun, publish: Sequence[Event]) -> Step[StoredRun]:
            def step(current: StoredRun | None) -> Outcome[StoredRun] | None:
                return Outcome(stored, publish=publish) if current is None else None

            return step

        committed = await self.runs.update_many(
            [
                Work(stored.run.run_id, cause, create_absent(stored, publish))
                for stored, cause, publish in runs
            ]
        )
        return [c is not None for c in committed]

    async def update(self, run_id: str, step: RunStep) -> StoredRun | None:
        """Apply `step` to the current run and commit; returns the run as it now stands."""
        latest: StoredRun | None = None

        def apply(current: StoredRun | None) -> Outcome[StoredRun] | None:
            nonlocal latest
            latest = current  # unchanged unless the step says otherwise (re-run on a conflict)
            if current is None:
                return None
            outcome = step(current)
            if outcome is None:
                return None
            latest, events = outcome
            return Outcome(latest, publish=list(events))

        await self.runs.update(run_id, None, apply)
        return latest

    async def update_many(self, steps: Mapping[str, RunStep]) -> dict[str, StoredRun | None]:
        """`update` for each run: one load of them all and one commit (`Repository.update_many`:
        distinct documents, one round); a run whose commit met a version conflict is redone
        alone there."""
        latest: dict[str, StoredRun | None] = {}

        def applying(run_id: str, step: RunStep) -> Step[StoredRun]:
            def apply(current: StoredRun | None) -> Outcome[StoredRun] | None:
                latest[run_id] = current
                if current is None:
                    return None
                outcome = step(current)
                if outcome is None:
                    return None
                latest[run_id], events = outcome
                return Outcome(outcome[0], publish=list(events))

            return apply

        await self.runs.update_many(
            [Work(run_id, None, applying(run_id, step)) for run_id, step in steps.items()]
        )
        return {run_id: latest.get(run_id) for run_id in steps}

    async def run_of(self, client_order_id: str) -> str | None:
        ref = await self._store.get_appended(CLIENT_ORDER_REFS, client_order_id)
        run_id = ref.get("run_id") if ref else None
        return run_id if isinstance(run_id, str) else None

    async def runs_needing_dispatch(self) -> list[str]:
        return await self.runs.ids(NEEDS_DISPATCH, 1)

    async def runs_needing_dispatch_after(self, after: str | None, limit: int) -> list[str]:
        return await self.runs.query(NEEDS_DISPATCH, 1, after_id=after, limit=limit)

    async def queued_runs(self) -> list[str]:
        return await self.runs.ids(QUEUED, 1)

    async def open_runs(self) -> list[str]:
        return await self.runs.ids(OPEN, 1)

    async def runs_done_on(self, day: int) -> list[str]:
        """Runs whose last order became final on UTC day `day` (YYYYMMDD)."""
        return await self.runs.ids(DONE_DAY, day)

    async def pending_cancels(self) -> PendingCancels:
        return await self.pending.load(DOCUMENT_ID) or PendingCancels()

    async def update_pending_cancels(self, step: PendingCancelsStep) -> None:
        def apply(current: PendingCancels | None) -> Outcome[PendingCancels] | None:
            before = current or PendingCancels()
            after = step(before)
            return None if after == before else Outcome(after)

        await self.pending.update(DOCUMENT_ID, None, apply)

    async def load_cursor(self, name: str) -> str | None:
        return await self.cursors.load(name)

    async def save_cursor(self, name: str, last_event_id: str) -> None:
        def save(current: str | None) -> Outcome[str | None]:
            return Outcome(last_event_id)

        await self.cursors.update(name, None, save)
