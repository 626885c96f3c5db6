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
from rebal_runtime.store import Document
from rebal_runtime.uow import Change, apply_once
from rebal_settlement_tracker.adapters.run_document import run_from_document
from rebal_settlement_tracker.service_layer import messages
from rebal_settlement_tracker.service_layer.handlers import (
    COMPLETED_DAY_INDEX,
    COMPLETION_REPORT,
    RUNS,
    SettlementHandlers,
)

log = get_logger(__name__)
PAGE = 500


async def recently_completed(handlers: SettlementHandlers, now: datetime) -> list[str]:
    ids: list[str] = []
    for day in (now - timedelta(days=1), now):
        after: str | None = None
        while True:
            page = await handlers.store.query(
                RUNS, COMPLETED_DAY_INDEX, day.date().isoformat(), after_id=after, limit=PAGE
            )
            ids += page
            if len(page) < PAGE:
                break
            after = page[-1]
    return ids


async def rereport_completion(handlers: SettlementHandlers, run_id: str) -> bool:
    """Publish the run's run.completed again (one commit: the same state, a new outbox row)."""
    published = False

    async def mutate(doc: Document | None) -> Change | None:
        nonlocal published
        report = doc.state.get(COMPLETION_REPORT) if doc else None
        if doc is None or not report:
            return None
        run = run_from_document(doc.state)
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
        return Change(doc.state, publish=[event])

    await apply_once(handlers.store, RUNS, run_id, None, mutate)
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
