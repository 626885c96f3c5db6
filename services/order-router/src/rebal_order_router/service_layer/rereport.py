"""Re-report after the Kafka broker lost records (docs/design.md §5: the embedded Tansu keeps nothing).

The order.filled / order.closed events of a run were published through the outbox and marked
sent; if the broker then lost them before the settlement-tracker read them, the run never
completes and its portfolio stays blocked. So when the runtime's watchdog finds that the broker
lost records (`ServiceRuntime.on_broker_data_lost`), every run still open or finished today or
yesterday (UTC) publishes its facts again, derived from the stored order state, and its
run.execution events (queued, started, stopped) derived from its execution start. They carry the
same event ids as the first time (same dedupe keys), and the settlement-tracker merges facts by
cumulative quantity, so a fact it had already is a no-op. The reconciliation poll then keeps
asking the broker about the orders still open.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from rebal_order_router.domain import StoredRun, day_key
from rebal_order_router.service_layer.context import RouterContext
from rebal_order_router.service_layer.execution_events import current_execution_events
from rebal_order_router.service_layer.publishing import events_for
from rebal_runtime.log import get_logger
from rebal_schemas import Event

log = get_logger(__name__)


async def recent_runs(ctx: RouterContext) -> list[str]:
    today = ctx.clock.now()
    days = {day_key(today), day_key(today - timedelta(days=1))}
    ids = set(await ctx.runs.open_runs()) | set(await ctx.runs.queued_runs())
    for day in sorted(days):
        ids.update(await ctx.runs.runs_done_on(day))
    return sorted(ids)


async def rereport_run(ctx: RouterContext, run_id: str) -> int:
    """Publish the run's facts and run.execution events again (one commit: the same state, new
    outbox rows); returns how many."""
    count = 0

    def step(stored: StoredRun) -> tuple[StoredRun, Sequence[Event]] | None:
        nonlocal count
        now = ctx.clock.now()
        facts = stored.run.current_facts(ctx.market_tz)
        events = [
            *current_execution_events(stored, ctx.producer, now),
            *events_for(facts, stored, ctx.producer, now),
        ]
        count = len(events)
        if not events:
            return None
        return stored, events

    await ctx.runs.update(run_id, step)
    return count


async def rereport_recent(ctx: RouterContext, reason: str = "") -> int:
    """Re-report every recent run; returns the facts published again."""
    total = runs = 0
    for run_id in await recent_runs(ctx):
        try:
            published = await rereport_run(ctx, run_id)
        except Exception as exc:  # one run's failure must not keep the others from re-reporting
            log.warning("re-reporting a run failed", run_id=run_id, error=repr(exc))
            continue
        total += published
        runs += 1 if published else 0
    log.warning(
        "broker lost records: order facts re-reported (consumers drop the ones they had)",
        reason=reason,
        runs=runs,
        facts=total,
    )
    return total
