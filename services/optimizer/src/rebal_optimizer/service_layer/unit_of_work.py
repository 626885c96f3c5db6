"""One step on one portfolio document, exactly once, with its decision records.

`PortfolioUnitOfWork.update` wraps `apply_once`: the step sees the portfolio account (None when
the portfolio does not exist yet) and returns an `Outcome`: the new account, the events to publish
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

Both paths keep the optimization.ready of the optimization that blocks the portfolio on the
account (`kept_ready`, `PortfolioAccount.follow_block`): whichever step blocks it (an evaluation,
the owner's ACCEPT) publishes that event in the same outcome, so the account keeps it without
each step having to. How the account maps to its document is the `PortfolioDocuments` port.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog

from rebal_optimizer.domain import Optimization, PortfolioAccount, TriggerReason
from rebal_optimizer.service_layer.ports import PortfolioDocuments
from rebal_runtime.store import Commit, Document, DocumentStore
from rebal_runtime.uow import Change, apply_once, to_outbox
from rebal_schemas import Event, OptimizationReady, encode

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
        doc = await self.store.load(self.collection, portfolio_id)
        return self.documents.read(doc.state)[0] if doc is not None else None

    def _pending(self, outcome: Outcome) -> tuple[Json, ...]:
        return tuple(outcome.history) if self.history_enabled else ()

    async def update(self, portfolio_id: str, event_id: str | None, step: Step) -> Outcome | None:
        """Run `step` and commit; None when nothing was committed (seen before, or no change)."""
        committed: list[Outcome] = []

        async def mutate(doc: Document | None) -> Change | None:
            committed.clear()
            account = None
            if doc is not None:
                account, pending = self.documents.read(doc.state)
                await self._append(pending)
            outcome = await step(account)
            if outcome is None:
                return None
            new = kept_ready(outcome)
            outcome.record = new
            committed.append(outcome)
            state = self.documents.write(new, self._pending(outcome))
            return Change(state, publish=outcome.publish, index=self.documents.index(new))

        # Every line logged while handling this portfolio carries its id.
        with structlog.contextvars.bound_contextvars(portfolio_id=portfolio_id):
            applied = await apply_once(self.store, self.collection, portfolio_id, event_id, mutate)
        if not applied or not committed:
            return None
        await self._append(self._pending(committed[0]))
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
        collection = self.collection
        docs = await self.store.load_many(collection, [w.portfolio_id for w in works[start:end]])
        leftovers: list[Json] = []
        commits: list[Commit] = []
        staged: dict[int, Outcome] = {}
        for index in range(start, end):
            work = works[index]
            doc = docs.get(work.portfolio_id)
            if doc is not None and work.event_id is not None and doc.has_processed(work.event_id):
                continue  # a redelivery: the inbox drops it
            account = None
            if doc is not None:
                account, pending = self.documents.read(doc.state)
                leftovers.extend(pending)
            with structlog.contextvars.bound_contextvars(portfolio_id=work.portfolio_id):
                outcome = await work.step(account)
            version = doc.version if doc is not None else 0
            if outcome is None:
                if doc is not None and work.event_id is not None:  # remember it was seen
                    commits.append(
                        Commit(collection, work.portfolio_id, version, doc.state, work.event_id)
                    )
                continue
            new = outcome.record = kept_ready(outcome)
            commits.append(
                Commit(
                    collection,
                    work.portfolio_id,
                    version,
                    self.documents.write(new, self._pending(outcome)),
                    work.event_id,
                    outbox=[to_outbox(e) for e in outcome.publish],
                    index=self.documents.index(new),
                )
            )
            staged[index] = outcome
        await self._append(leftovers)
        conflicts = set(await self.store.commit_many(commits))
        done = [(i, o) for i, o in staged.items() if works[i].portfolio_id not in conflicts]
        await self._append(entry for _, o in done for entry in self._pending(o))
        for index, outcome in done:
            results[index] = outcome
        for index in range(start, end):
            if works[index].portfolio_id in conflicts:
                work = works[index]
                results[index] = await self.update(work.portfolio_id, work.event_id, work.step)

    async def _append(self, entries: Iterable[Json]) -> None:
        await self.store.append_many(HISTORY, [(entry["id"], entry["body"]) for entry in entries])
