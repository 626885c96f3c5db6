"""One step on one portfolio document, exactly once, with its decision records.

`PortfolioUnitOfWork.update` wraps `apply_once`: the step sees the portfolio record (None when
the portfolio does not exist yet) and returns an `Outcome`: the new record, the events to publish
(outbox, same atomic write) and the decision records for the append-only `optimizations` history.

Why history goes through the document: the append cannot share the atomic write, so the records
are first committed *inside* the portfolio document (`pending_history`), appended right after the
commit, and appended again (idempotently, by id) at the start of the next step on that portfolio.
A crash between commit and append therefore delays a record; it never loses one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
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
from rebal_runtime.store import Document, DocumentStore
from rebal_runtime.uow import Change, apply_once
from rebal_schemas import Event

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


def history_entry(record: PortfolioRecord, opt: Optimization, *, cause_id: str | None,
                  suffix: str | None = None) -> Json:
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
            new = outcome.record
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

    async def _append(self, entries: Iterable[Json]) -> None:
        for entry in entries:
            await self.store.append(HISTORY, entry["id"], entry["body"])
