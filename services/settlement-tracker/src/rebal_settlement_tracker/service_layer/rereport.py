"""Say run.completed again after the Kafka broker lost records (the embedded broker keeps nothing
across a restart).

A run.completed that was published and marked sent, then lost by the broker before the optimizer
read it, would leave the portfolio blocked for good: the run is complete here, so no fact the
order-router re-reports can complete it again. So when the runtime's watchdog finds that the
broker lost records (`ServiceRuntime.on_broker_data_lost`), every run completed today or yesterday
(UTC) publishes its run.completed again, rebuilt from the same facts, with the same event id,
cause and completion time (only `recorded_at` is new): a consumer that had it drops it as a
duplicate (the optimizer also ignores a run.completed for a run that no longer blocks the
portfolio).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from rebal_runtime.log import get_logger
from rebal_runtime.repository import Outcome
from rebal_settlement_tracker.service_layer import messages
from rebal_settlement_tracker.service_layer.handlers import SettlementHandlers
from rebal_settlement_tracker.service_layer.run_records import COMPLETED_DAY_INDEX, RunRecord

log = get_logger(__name__)


async def recently_completed(handlers: SettlementHandlers, now: datetime) -> list[str]:
    ids: list[str] = []
    for day in (now - timedelta(days=1), now):
        ids += await handlers.runs.ids(COMPLETED_DAY_INDEX, day.date().isoformat())
    return ids


async def rereport_completion(handlers: SettlementHandlers, run_id: str) -> bool:
    """Publish the run's run.completed again (one commit: the same state, a new outbox row)."""
    published = False

    def republish(record: RunRecord | None) -> Outcome[RunRecord] | None:
        nonlocal published
        report = record.report if record else None
        if record is None or not report:
            return None
        run = record.run
        completion = run.reported_completion(handlers.policy.unblock_on)
        completed_at = datetime.fromisoformat(report["completed_at"])
        envelope = {
            "producer": handlers.producer,
            "correlation_id": run.run_id,
            "event_id": report["event_id"],
            "causation_id": report.get("causation_id"),
        }
        event = messages.run_completed(run, completion, completed_at, envelope)
        published = True
        return Outcome(record, publish=[event])

    await handlers.runs.update(run_id, None, republish)
    return published


async def rereport_recent(handlers: SettlementHandlers, reason: str = "") -> int:
    """Re-publish the run.completed of every recently completed run; returns how many."""
    count = 0
    for run_id in await recently_completed(handlers, handlers.clock.now()):
        try:
            count += await rereport_completion(handlers, run_id)
        except Exception as exc:  # one run's failure must not keep the others from re-reporting
            log.warning("re-reporting a run failed", run_id=run_id, error=repr(exc))
    log.warning(
        "broker lost records: run.completed re-published (consumers drop the ones they had)",
        reason=reason,
        runs=count,
    )
    return count
