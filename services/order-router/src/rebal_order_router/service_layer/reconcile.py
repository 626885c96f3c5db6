"""The reconciliation poll: every order the broker holds open is looked up by client_order_id,
so a fill or close the stream missed (disconnect, router down, stream disabled) is still
reported. Applying a snapshot the stream already delivered is a no-op (cumulative quantities).
Canceled runs get their pending cancellation settled again (lookups, cancel requests).
"""

from __future__ import annotations

from rebal_order_router.domain import BrokerError, event_from_broker_order
from rebal_order_router.service_layer.cancel import settle_cancellation
from rebal_order_router.service_layer.context import (
    Report,
    RouterContext,
    RunBusy,
    apply_reports,
)
from rebal_runtime.log import get_logger

log = get_logger(__name__)


async def reconcile_run(ctx: RouterContext, run_id: str) -> int:
    """Look up the run's open orders and apply what the broker says; returns the lookups made.
    Raises RunBusy when another instance holds the run."""
    async with ctx.locks.hold(run_id):
        stored = await ctx.runs.get(run_id)
        if stored is None or stored.run.is_complete:
            return 0
        run = stored.run
        reports: list[Report] = []
        lookups = 0
        for order in run.orders:
            if not order.status.is_open_at_broker:
                continue
            try:
                found = await ctx.broker.get_order_by_client_order_id(
                    run.account_id, order.client_order_id
                )
            except BrokerError as exc:
                log.warning("reconciliation lookup failed", run_id=run_id, error=str(exc))
                break  # the broker is down: the next round tries again
            lookups += 1
            if found is None:
                log.error("broker has no order it accepted", client_order_id=order.client_order_id)
                continue
            report = event_from_broker_order(found, ctx.clock.now())
            if report is not None:
                reports.append((order.client_order_id, report))
        updated = await apply_reports(ctx, run_id, reports) if reports else stored
        if updated is not None and updated.run.is_canceled and not updated.run.is_complete:
            await settle_cancellation(ctx, updated)
        return lookups


async def reconcile_all(ctx: RouterContext) -> int:
    """One round over every run with open orders; runs busy with a send (here or in another
    instance) are left for later."""
    total = 0
    for run_id in await ctx.runs.open_runs():
        if ctx.locks.is_busy(run_id):
            continue
        try:
            total += await reconcile_run(ctx, run_id)
        except RunBusy:
            continue
        except Exception as exc:
            log.warning("reconciling a run failed", run_id=run_id, error=repr(exc))
    return total
