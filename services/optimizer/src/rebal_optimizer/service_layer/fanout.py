"""Fan-out of a `rebalance.requested` with scope `model` or `all`: one scope-`portfolio` request
per portfolio, published straight to Kafka in pipelined batches (not one store write each).

Why no outbox: every child gets a DETERMINISTIC event id derived from (parent event id,
portfolio id), so a fan-out that is redone (crash, redelivery, group rebalance) publishes the
same ids again and each portfolio's inbox drops the second copy. The parent is acked only after
every child was acknowledged by Kafka; the progress (last portfolio id sent) is saved after each
batch in collection `fanouts`, so a redone fan-out resumes instead of starting over — a fan-out
over a million portfolios never has to fit in one consumer poll interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from rebal_optimizer.service_layer.messages import derived_id
from rebal_optimizer.service_layer.ports import PortfolioQueries
from rebal_runtime.log import get_logger
from rebal_runtime.store import Document, DocumentStore
from rebal_runtime.uow import Change, apply_once
from rebal_schemas import RebalanceRequested

log = get_logger(__name__)
FANOUTS = "fanouts"


class FanoutSink(Protocol):
    async def publish(self, events: Sequence[RebalanceRequested]) -> None:
        """Publish all; return only when Kafka acknowledged every one of them."""


def child_request(
    parent: RebalanceRequested, portfolio_id: str, producer: str
) -> RebalanceRequested:
    return RebalanceRequested(
        event_id=derived_id(parent.event_id, portfolio_id),
        scope="portfolio",
        portfolio_id=portfolio_id,
        model_id=parent.model_id,
        reason=parent.reason,
        run_type=parent.run_type,
        amount=parent.amount,
        initiated_from=parent.initiated_from,
        slot_id=parent.slot_id,
        late=parent.late,
        occurred_at=parent.occurred_at,
        **parent.caused(producer=producer),
    )


async def fan_out(
    store: DocumentStore,
    sink: FanoutSink,
    parent: RebalanceRequested,
    *,
    batch: int,
    producer: str,
    queries: PortfolioQueries,
) -> int:
    """Publish the children not yet published; returns how many this call published."""
    progress = await store.load(FANOUTS, parent.event_id)
    if progress is not None and progress.state.get("done"):
        return 0
    after: str | None = progress.state.get("after_id") if progress is not None else None
    total = progress.state.get("sent", 0) if progress is not None else 0
    published = 0
    while True:
        if parent.scope == "model":
            assert parent.model_id is not None  # the schema requires it for scope model
            ids = await queries.subscribers(parent.model_id, after=after, limit=batch)
        else:
            ids = await queries.all(after=after, limit=batch)
        if ids:
            await sink.publish([child_request(parent, pid, producer) for pid in ids])
            after, published, total = ids[-1], published + len(ids), total + len(ids)
        done = len(ids) < batch
        await _save_progress(store, parent, after, total, done)
        if done:
            log.info(
                "fan-out done",
                scope=parent.scope,
                model_id=parent.model_id,
                portfolios=total,
                published_now=published,
            )
            return published


async def _save_progress(
    store: DocumentStore, parent: RebalanceRequested, after: str | None, sent: int, done: bool
) -> None:
    state = {
        "scope": parent.scope,
        "model_id": parent.model_id,
        "after_id": after,
        "sent": sent,
        "done": done,
    }

    async def mutate(doc: Document | None) -> Change:
        return Change(state)

    await apply_once(store, FANOUTS, parent.event_id, None, mutate)
