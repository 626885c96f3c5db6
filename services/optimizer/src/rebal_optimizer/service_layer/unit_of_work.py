"""One step on one portfolio document, exactly once, with its decision records.

`PortfolioUnitOfWork.update` runs a step through the runtime's `Repository` (`update`: inbox,
one atomic commit, retried on a version conflict): the step sees the portfolio account (None
when the portfolio does not exist yet) and returns an `Outcome`: the new account, the events to
publish (outbox, same atomic write) and the decision records for the append-only
`optimizations` history.

Why history goes through the document: the append cannot share the atomic write, so the records
are first committed *inside* the portfolio document (`StoredPortfolio.pending_history`), appended
right after the commit, and appended again (idempotently, by id) before the next commit on that
portfolio replaces them: the repository's `flush`. A crash between commit and append therefore
delays a record; it never loses one.

`update_many` is the batch path (a batch subscriber's list of events): `Repository.update_many`,
one store read for all the portfolios of a round and one write for all its commits, giving
exactly what calling `update` for each item in order gives.

Both paths keep the optimization.ready of the optimization that blocks the portfolio on the
account (`kept_ready`, `PortfolioAccount.follow_block`): whichever step blocks it (an evaluation,
the owner's ACCEPT) publishes that event in the same outcome, so the account keeps it without
each step having to. How the account maps to its document is the `PortfolioDocuments` port.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog

from rebal_optimizer.domain import DomainError, Optimization, PortfolioAccount, TriggerReason
from rebal_optimizer.service_layer.ports import PortfolioDocuments, StoredPortfolio
from rebal_runtime import repository
from rebal_runtime.repository import Repository
from rebal_runtime.store import DocumentStore
from rebal_schemas import Event, OptimizationReady, PoisonMessage, encode

Json = dict[str, Any]
HISTORY = "optimizations"


@dataclass
class Outcome:
    record: PortfolioAccount
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


Step = Callable[[PortfolioAccount | None], Awaitable[Outcome | None]]


@dataclass(frozen=True)
class Work:
    """One item of a batch: run `step` on portfolio `portfolio_id` because of event `event_id`."""

    portfolio_id: str
    event_id: str | None
    step: Step


def kept_ready(outcome: Outcome) -> PortfolioAccount:
    """The outcome's account with `ready_event` following the block: the encoded ready event of
    the blocking optimization when this outcome publishes it, dropped once unblocked."""
    ready = {
        event.optimization_id: encode(event).decode()
        for event in outcome.publish
        if isinstance(event, OptimizationReady)
    }
    return outcome.record.follow_block(ready)


class PortfolioUnitOfWork:
    def __init__(
        self, store: DocumentStore, documents: PortfolioDocuments, history_enabled: bool = True
    ) -> None:
        self.store = store
        self.documents = documents
        self.history_enabled = history_enabled
        self.collection = documents.collection
        self.repository = Repository(store, self.collection, documents, flush=self._append)

    def history_entry(
        self,
        account: PortfolioAccount,
        opt: Optimization,
        *,
        cause_id: str | None,
        suffix: str | None = None,
    ) -> Json:
        """A decision record: the optimization as created (or at a later status, with `suffix`)."""
        body = {
            **self.documents.optimization(opt),
            "account_id": account.account_id,
            "broker_integration": str(account.portfolio.settings.broker_integration),
            "source": "EXTERNAL" if opt.trigger is TriggerReason.EXTERNAL else "PLATFORM",
            "cause_event_id": cause_id,
        }
        entry_id = opt.optimization_id if suffix is None else f"{opt.optimization_id}:{suffix}"
        return {"id": entry_id, "body": body}

    async def load(self, portfolio_id: str) -> PortfolioAccount | None:
        stored = await self.repository.load(portfolio_id)
        return stored.account if stored is not None else None

    async def update(self, portfolio_id: str, event_id: str | None, step: Step) -> Outcome | None:
        """Run `step` and commit; None when nothing was committed (seen before, or no change)."""
        work, last = self._work(Work(portfolio_id, event_id, step))
        # Every line logged while handling this portfolio carries its id.
        with structlog.contextvars.bound_contextvars(portfolio_id=portfolio_id):
            committed = await self.repository.update(work.id, work.event_id, work.step)
        return last[0] if committed is not None else None

    async def update_many(self, works: Sequence[Work]) -> list[Outcome | None]:
        """`update` for each item, in order, batched; the result of each item, by position."""
        items = [self._work(work) for work in works]
        committed = await self.repository.update_many([work for work, _ in items])
        return [
            last[0] if done is not None else None
            for (_, last), done in zip(items, committed, strict=True)
        ]

    def _work(self, work: Work) -> tuple[repository.Work[StoredPortfolio], list[Outcome | None]]:
        """The repository's form of `work`, and where its step leaves its last `Outcome` (a
        version conflict runs it again)."""
        last: list[Outcome | None] = [None]

        async def step(
            stored: StoredPortfolio | None,
        ) -> repository.Outcome[StoredPortfolio] | None:
            with structlog.contextvars.bound_contextvars(portfolio_id=work.portfolio_id):
                outcome = last[0] = await work.step(None if stored is None else stored.account)
            if outcome is None:
                return None
            new = outcome.record = kept_ready(outcome)
            pending = tuple(outcome.history) if self.history_enabled else ()
            return repository.Outcome(StoredPortfolio(new, pending), publish=outcome.publish)

        return repository.Work(work.portfolio_id, work.event_id, step), last

    async def _append(self, stored: Sequence[StoredPortfolio]) -> None:
        entries = [(e["id"], e["body"]) for s in stored for e in s.pending_history]
        await self.store.append_many(HISTORY, entries)


async def update_known(
    portfolios: PortfolioUnitOfWork, event: Event, portfolio_id: str, step: Step
) -> Outcome | None:
    """`step` on an existing portfolio, committed (`known_work`)."""
    work = known_work(event, portfolio_id, step)
    return await portfolios.update(work.portfolio_id, work.event_id, work.step)


def known_work(event: Event, portfolio_id: str, step: Step) -> Work:
    """`step` on an existing portfolio because of `event`; an unknown portfolio or a domain
    refusal is a dead letter naming the event."""

    async def guarded(record: PortfolioAccount | None) -> Outcome | None:
        if record is None:
            raise PoisonMessage(
                f"unknown portfolio {portfolio_id!r} in {event.event_type} {event.event_id}"
            )
        try:
            return await step(record)
        except DomainError as error:
            raise PoisonMessage(f"{event.event_type} {event.event_id}: {error.reason}") from error

    return Work(portfolio_id, event.event_id, guarded)
