"""One step on one portfolio document, exactly once, with its decision records.

`PortfolioUnitOfWork.update` wraps `apply_once`: the step sees the portfolio record (None when
the portfolio does not exist yet) and returns an `Outcome`: the new record, the events to publish
(outbox, same atomic write) and the decision records for the append-only `optimizations` history.

Why history goes through the document: the append cannot share the atomic write, so the records
are first committed *inside* the portfolio document (`pending_history`), appended right after the
commit, and appended again (idempotently, by id) at the start of the next step on that portfolio.
A crash between commit and append therefore delays a record; it never loses one.

`update_many` is the batch path (a batch subscriber's list of events): the same steps, with one
store read for all the portfolios and one write for all the commits. It gives exactly what
calling `update` for each item in order gives: items on a portfolio already touched in the batch
start a new round, so every step sees the previous one committed; a commit refused on a version
conflict (another handler wrote that portfolio meanwhile) is redone alone through `update`.

Both paths keep the optimization.ready of the optimization that blocks the portfolio in its
document (`kept_ready`): whichever step blocks it (an evaluation, the owner's ACCEPT) publishes
that event in the same outcome, so the record stores it without each step having to.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import structlog

from rebal_optimizer.adapters.domain_json import optimization_json
from rebal_optimizer.adapters.portfolio_document import (
    PORTFOLIOS,
    PortfolioRecord,
    record_from_document,
    record_to_document,
)
from rebal_optimizer.domain import Optimization, TriggerReason
from rebal_runtime.store import Commit, Document, DocumentStore
from rebal_runtime.uow import Change, apply_once, to_outbox
from rebal_schemas import Event, OptimizationReady, encode

Json = dict[str, Any]
HISTORY = "optimizations"


@dataclass
class Outcome:
    record: PortfolioRecord
    publish: list[Event] = field(default_factory=list)
    history: list[Json] = field(default_factory=list)
    # (model_id, symbols): the followed model holds symbols that cannot be traded
    needs_adjustment: tuple[str, tuple[str, ...]] | None = None

    def extend(self, other: Outcome) -> Outcome:
        """`other` continues from this outcome: its record wins, events and records add up."""
        return Outcome(
            other.record,
            [*self.publish, *other.publish],
            [*self.history, *other.history],
            other.needs_adjustment or self.needs_adjustment,
        )


Step = Callable[[PortfolioRecord | None], Awaitable[Outcome | None]]


@dataclass(frozen=True)
class Work:
    """One item of a batch: run `step` on portfolio `portfolio_id` because of event `event_id`."""

    portfolio_id: str
    event_id: str | None
    step: Step


def history_entry(
    record: PortfolioRecord, opt: Optimization, *, cause_id: str | None, suffix: str | None = None
) -> Json:
    """A decision record: the optimization as created (or at a later status, with `suffix`)."""
    body = {
        **optimization_json(opt),
        "account_id": record.account_id,
        "broker_integration": str(record.portfolio.settings.broker_integration),
        "source": "EXTERNAL" if opt.trigger is TriggerReason.EXTERNAL else "PLATFORM",
        "cause_event_id": cause_id,
    }
    entry_id = opt.optimization_id if suffix is None else f"{opt.optimization_id}:{suffix}"
    return {"id": entry_id, "body": body}


def kept_ready(outcome: Outcome) -> PortfolioRecord:
    """The outcome's record with `ready_event` following the block: the encoded ready event of
    the blocking optimization when this outcome publishes it, dropped once unblocked."""
    record = outcome.record
    blocked_by = record.portfolio.blocked_by
    if blocked_by is None:
        return replace(record, ready_event=None) if record.ready_event is not None else record
    for event in outcome.publish:
        if isinstance(event, OptimizationReady) and event.optimization_id == blocked_by:
            return replace(record, ready_event=encode(event).decode())
    return record


class PortfolioUnitOfWork:
    def __init__(self, store: DocumentStore, history_enabled: bool = True) -> None:
        self.store = store
        self.history_enabled = history_enabled

    async def load(self, portfolio_id: str) -> PortfolioRecord | None:
        doc = await self.store.load(PORTFOLIOS, portfolio_id)
        return record_from_document(doc.state) if doc is not None else None

    async def update(self, portfolio_id: str, event_id: str | None, step: Step) -> Outcome | None:
        """Run `step` and commit; None when nothing was committed (seen before, or no change)."""
        committed: list[Outcome] = []

        async def mutate(doc: Document | None) -> Change | None:
            committed.clear()
            record = None
            if doc is not None:
                record = record_from_document(doc.state)
                await self._append(record.pending_history)
                record = replace(record, pending_history=())
            outcome = await step(record)
            if outcome is None:
                return None
            new = kept_ready(outcome)
            if self.history_enabled and outcome.history:
                new = replace(new, pending_history=tuple(outcome.history))
            outcome.record = new
            committed.append(outcome)
            return Change(record_to_document(new), publish=outcome.publish, index=new.index())

        # Every line logged while handling this portfolio carries its id.
        with structlog.contextvars.bound_contextvars(portfolio_id=portfolio_id):
            applied = await apply_once(self.store, PORTFOLIOS, portfolio_id, event_id, mutate)
        if not applied or not committed:
            return None
        await self._append(committed[0].record.pending_history)
        return committed[0]

    async def update_many(self, works: Sequence[Work]) -> list[Outcome | None]:
        """`update` for each item, in order, batched; the result of each item, by position."""
        results: list[Outcome | None] = [None] * len(works)
        start = 0
        while start < len(works):
            touched: set[str] = set()
            end = start
            while end < len(works) and works[end].portfolio_id not in touched:
                touched.add(works[end].portfolio_id)
                end += 1
            await self._round(works, start, end, results)
            start = end
        return results

    async def _round(
        self, works: Sequence[Work], start: int, end: int, results: list[Outcome | None]
    ) -> None:
        """Items start..end-1, on distinct portfolios: one load, the steps, one commit."""
        docs = await self.store.load_many(PORTFOLIOS, [w.portfolio_id for w in works[start:end]])
        leftovers: list[Json] = []
        commits: list[Commit] = []
        staged: dict[int, Outcome] = {}
        for index in range(start, end):
            work = works[index]
            doc = docs.get(work.portfolio_id)
            if doc is not None and work.event_id is not None and doc.has_processed(work.event_id):
                continue  # a redelivery: the inbox drops it
            record = None
            if doc is not None:
                record = record_from_document(doc.state)
                leftovers.extend(record.pending_history)
                record = replace(record, pending_history=())
            with structlog.contextvars.bound_contextvars(portfolio_id=work.portfolio_id):
                outcome = await work.step(record)
            version = doc.version if doc is not None else 0
            if outcome is None:
                if doc is not None and work.event_id is not None:  # remember it was seen
                    commits.append(
                        Commit(PORTFOLIOS, work.portfolio_id, version, doc.state, work.event_id)
                    )
                continue
            outcome.record = kept_ready(outcome)
            if self.history_enabled and outcome.history:
                outcome.record = replace(outcome.record, pending_history=tuple(outcome.history))
            new = outcome.record
            commits.append(
                Commit(
                    PORTFOLIOS,
                    work.portfolio_id,
                    version,
                    record_to_document(new),
                    work.event_id,
                    outbox=[to_outbox(e) for e in outcome.publish],
                    index=new.index(),
                )
            )
            staged[index] = outcome
        await self._append(leftovers)
        conflicts = set(await self.store.commit_many(commits))
        done = [(i, o) for i, o in staged.items() if works[i].portfolio_id not in conflicts]
        await self._append(entry for _, o in done for entry in o.record.pending_history)
        for index, outcome in done:
            results[index] = outcome
        for index in range(start, end):
            if works[index].portfolio_id in conflicts:
                work = works[index]
                results[index] = await self.update(work.portfolio_id, work.event_id, work.step)

    async def _append(self, entries: Iterable[Json]) -> None:
        await self.store.append_many(HISTORY, [(entry["id"], entry["body"]) for entry in entries])
