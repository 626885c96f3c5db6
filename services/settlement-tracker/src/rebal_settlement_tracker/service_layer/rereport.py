"""Say run.completed and run.settled again after the Kafka broker lost records (the embedded
broker keeps nothing across a restart).

A run.completed or run.settled that was published and marked sent, then lost by the broker
before the optimizer read it, would leave the portfolio blocked for good: the run is complete
(or settled) here, so no fact the order-router re-reports can produce it again. So when the
runtime's watchdog finds that the broker lost records (`ServiceRuntime.on_broker_data_lost`),
every run completed (settled) today or yesterday (UTC) publishes its run.completed (run.settled)
again, rebuilt from the same facts, with the same event id, cause and time (only `recorded_at`
is new): a consumer that had it drops it as a duplicate (the optimizer also ignores one for a run
that no longer blocks the portfolio).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rebal_runtime.log import get_logger
from rebal_runtime.repository import Outcome
from rebal_schemas import Event
from rebal_settlement_tracker.domain import reported_completion
from rebal_settlement_tracker.service_layer import run_messages
from rebal_settlement_tracker.service_layer.handlers import SettlementHandlers
from rebal_settlement_tracker.service_layer.messages import RUN_COMPLETED, RUN_SETTLED
from rebal_settlement_tracker.service_layer.run_records import (
    COMPLETED_DAY_INDEX,
    SETTLED_DAY_INDEX,
    RunRecord,
)

log = get_logger(__name__)

INDEX_OF = {RUN_COMPLETED: COMPLETED_DAY_INDEX, RUN_SETTLED: SETTLED_DAY_INDEX}


async def recently(handlers: SettlementHandlers, kind: str, now: datetime) -> list[str]:
    """The runs that published `kind` (run.completed, run.settled) today or yesterday (UTC)."""
    ids: list[str] = []
    for day in (now - timedelta(days=1), now):
        # the UTC date, as `publishing.report_day` indexed it: a clock may tell any zone's time
        ids += await handlers.runs.ids(INDEX_OF[kind], day.astimezone(UTC).date().isoformat())
    return ids


def _again(handlers: SettlementHandlers, record: RunRecord, kind: str) -> Event | None:
    report = record.reports.get(kind)
    if not report:
        return None
    run = record.run
    envelope = {
        "producer": handlers.producer,
        "correlation_id": run.run_id,
        "causation_id": report.get("causation_id"),
    }
    if kind == RUN_COMPLETED:
        event: Event = run_messages.run_completed(run, reported_completion(run), envelope)
    else:
        event = run_messages.run_settled(run, run.report(), envelope)
    # the id it was published under (a document of version 1 kept a random one)
    return event.model_copy(update={"event_id": report["event_id"]})


async def rereport(handlers: SettlementHandlers, run_id: str, kind: str) -> bool:
    """Publish the run's `kind` event again (one commit: the same state, a new outbox row)."""
    published = False

    def republish(record: RunRecord | None) -> Outcome[RunRecord] | None:
        nonlocal published
        event = _again(handlers, record, kind) if record is not None else None
        if record is None or event is None:
            return None
        published = True
        return Outcome(record, publish=[event])

    await handlers.runs.update(run_id, None, republish)
    return published


async def rereport_recent(handlers: SettlementHandlers, reason: str = "") -> int:
    """Re-publish the run.completed and run.settled of every run that recently published them;
    returns how many events."""
    count = 0
    for kind in (RUN_COMPLETED, RUN_SETTLED):
        for run_id in await recently(handlers, kind, handlers.clock.now()):
            try:
                count += await rereport(handlers, run_id, kind)
            except Exception as exc:  # one run's failure must not keep the others from it
                log.warning("re-reporting a run failed", run_id=run_id, kind=kind, error=repr(exc))
    log.warning(
        "broker lost records: run.completed and run.settled re-published (consumers drop the "
        "ones they had)",
        reason=reason,
        events=count,
    )
    return count
