"""Cancelling a run (Alpaca's DELETE /v1/rebalancing/runs/{run_id}): nothing more is sent,
open orders are canceled at the broker, and intents that may have been sent are resolved by a
lookup, never by a guess. No topic triggers it yet; `cancel_run` is the service-layer entry.
"""

from __future__ import annotations

from collections.abc import Sequence

from rebal_order_router.domain import (
    RUN_CANCELED,
    BrokerError,
    OrderEvent,
    OrderEventKind,
    OrderRejected,
    StoredRun,
    event_from_broker_order,
)
from rebal_order_router.service_layer.context import Report, RouterContext, apply_reports
from rebal_order_router.service_layer.publishing import events_for
from rebal_runtime.log import get_logger
from rebal_schemas import Event

log = get_logger(__name__)


async def cancel_run(
    ctx: RouterContext, run_id: str, reason: str = RUN_CANCELED
) -> StoredRun | None:
    """Cancel a run (idempotent). Returns the run as it stands, None for an unknown run.

    Open broker orders get a cancel request; their CANCELED (or a fill that beat it) comes back
    through the stream or the reconciliation poll, which also retries what failed here.
    Raises RunBusy while another instance holds the run (nothing is done then: call again).
    """
    async with ctx.locks.hold(run_id):

        def mark_canceled(stored: StoredRun) -> tuple[StoredRun, Sequence[Event]] | None:
            cancellation = stored.run.cancel(ctx.clock(), reason, ctx.market_tz)
            if cancellation.run == stored.run:
                return None
            canceled = StoredRun(cancellation.run, stored.meta)
            return canceled, events_for(cancellation.facts, canceled, ctx.producer, ctx.clock())

        stored = await ctx.runs.update(run_id, mark_canceled)
        if stored is None:
            return None
        log.info("run canceled", run_id=run_id, reason=stored.run.cancel_reason)
        return await settle_cancellation(ctx, stored)


async def settle_cancellation(ctx: RouterContext, stored: StoredRun) -> StoredRun:
    """Resolve what a canceled run still has pending. The caller holds the run's lock and lease,
    so no submit of this run is in flight in this process or another (RunBusy if the lease was
    lost meanwhile: a lookup could then no longer prove an intent unsent)."""
    run = stored.run
    now = ctx.clock()
    pending = run.cancel(now, run.cancel_reason or RUN_CANCELED, ctx.market_tz)
    reports: list[Report] = []
    for coid in pending.to_look_up:
        ctx.locks.check(run.run_id)
        abandoned = OrderEvent(OrderEventKind.ABANDONED, now, reason=run.cancel_reason)
        if coid not in stored.meta.attempted:
            reports.append((coid, abandoned))  # the dispatcher never started to send it
            continue
        try:
            found = await ctx.broker.get_order_by_client_order_id(run.account_id, coid)
        except BrokerError as exc:
            log.warning(
                "lookup for a cancel failed; retried later", client_order_id=coid, error=str(exc)
            )
            continue
        report = event_from_broker_order(found, now) if found is not None else abandoned
        if report is not None:
            reports.append((coid, report))
    if reports:
        stored = await apply_reports(ctx, run.run_id, reports) or stored
    for cancel in stored.run.cancel(now, run.cancel_reason, ctx.market_tz).broker_cancels:
        try:
            await ctx.broker.cancel_order(stored.run.account_id, cancel.broker_order_id)
        except OrderRejected as exc:
            # already final at the broker (filled, expired...): that report is on its way
            log.info(
                "broker refused the cancel", client_order_id=cancel.client_order_id, error=str(exc)
            )
        except BrokerError as exc:
            log.warning(
                "cancel request failed; retried later",
                client_order_id=cancel.client_order_id,
                error=str(exc),
            )
    return stored
