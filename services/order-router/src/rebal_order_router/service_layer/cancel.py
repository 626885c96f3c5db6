"""Cancelling a run (Alpaca's DELETE /v1/rebalancing/runs/{run_id}, on run.cancel_requested).

- A run none of whose orders left yet (QUEUED, or ready in the window but not dispatched) stops
  as `canceled`: nothing is ever sent, `run.execution_stopped` says so, no order.closed.
- A started run is canceled mid-run: nothing more is sent, the legs never sent close as
  canceled ("run canceled"), open orders are canceled at the broker, and intents that may have
  been sent are resolved by a lookup, never by a guess; fills that happened (or beat the
  cancel: the broker's answer decides) are kept and reported as usual. `run.execution_stopped`
  `canceled_mid_run` is committed with the cancel itself, before any broker call.
- A run the router has not stored is kept as a pending cancel (`domain/pending_cancel.py`):
  its optimization.ready may still be on its way (another topic, read in no order with this
  one), and then stores the run already stopped as `canceled` (service_layer/intake.py). A
  cancel whose ready never comes (a CLIENT run: the router never stores those) expires.
- A run of another portfolio, or whose orders are all final, is ignored: the
  settlement-tracker answers the request.

Every decision is taken under the run's lock and lease (no send of the run is in flight) and
committed with its events in one write; the run's state makes a redelivered request a no-op.
A crash after that commit leaves the broker cancels to the reconciliation poll, which settles
canceled runs again.
"""

from __future__ import annotations

from collections.abc import Sequence

from rebal_order_router.domain import (
    RUN_CANCELED,
    BrokerError,
    OrderEvent,
    OrderEventKind,
    OrderRejected,
    PendingCancel,
    PendingCancels,
    StopOutcome,
    StoredRun,
    event_from_broker_order,
    has_started,
)
from rebal_order_router.service_layer.context import (
    Report,
    RouterContext,
    RunBusy,
    apply_reports,
)
from rebal_order_router.service_layer.execution_events import mark_started, stopped_event
from rebal_order_router.service_layer.publishing import events_for
from rebal_runtime.consume import Transient
from rebal_runtime.log import get_logger
from rebal_schemas import Event, RunCancelRequested

log = get_logger(__name__)


async def on_cancel_requested(ctx: RouterContext, event: RunCancelRequested) -> bool:
    """run.cancel_requested: cancel a run this router executes; True when it stopped now (a
    cancel kept for a run not stored yet stops it later: False). Raises Transient while another
    instance holds the run (the request is read again)."""
    reason = event.reason or RUN_CANCELED
    stored = await ctx.runs.get(event.run_id)
    if stored is None:
        now = ctx.clock.now()
        kept = PendingCancel(event.run_id, event.portfolio_id, event.event_id, reason, now)
        ttl = ctx.pending_cancel_ttl
        await ctx.runs.update_pending_cancels(lambda cancels: cancels.kept(kept, now, ttl))
        # The ready may have stored the run after the read above, finding no kept cancel yet:
        # read again now that this one is kept (the ready reads kept cancels after storing).
        stored = await ctx.runs.get(event.run_id)
        if stored is None:
            log.info("cancel of a run not stored yet; kept for its ready", run_id=event.run_id)
            return False
        await forget_kept_cancel(ctx, event.run_id)  # answered below, as for any stored run
    if stored.run.portfolio_id != event.portfolio_id:
        log.info("cancel of another portfolio's run; ignored", run_id=event.run_id)
        return False
    if stored.run.is_complete:
        log.info("cancel of a run with every order final; ignored", run_id=event.run_id)
        return False
    try:
        canceled = await cancel_run(ctx, event.run_id, reason, event.event_id)
    except RunBusy as exc:
        raise Transient(str(exc)) from exc
    stop = canceled.run.start if canceled is not None else None
    return stop is not None and stop.stop_cause == event.event_id


def kept_cancel(
    ctx: RouterContext, cancels: PendingCancels, run_id: str, portfolio_id: str
) -> PendingCancel | None:
    """The cancel kept for a run not stored yet (in `cancels`, as read), unless it expired or
    names another portfolio (then it is ignored, as a cancel of a stored run of another
    portfolio is)."""
    kept = cancels.find(run_id, ctx.clock.now(), ctx.pending_cancel_ttl)
    if kept is None and run_id in cancels.entries:
        log.warning("the run's cancel was kept too long and expired; not applied", run_id=run_id)
    if kept is None or kept.portfolio_id == portfolio_id:
        return kept
    log.info("kept cancel names another portfolio; ignored", run_id=run_id)
    return None


async def cancel_kept(ctx: RouterContext, kept: PendingCancel) -> None:
    """Apply a kept cancel to its run, stored meanwhile; Transient while another instance holds
    the run (the optimization.ready is read again, and finds the cancel still kept)."""
    try:
        await cancel_run(ctx, kept.run_id, kept.reason, kept.request_event_id)
    except RunBusy as exc:
        raise Transient(str(exc)) from exc


async def forget_kept_cancel(ctx: RouterContext, run_id: str) -> None:
    """Drop a kept cancel once its run is stored (a crash before this leaves it to expire: it
    is only ever read when a run is stored, and a run is stored once)."""
    now, ttl = ctx.clock.now(), ctx.pending_cancel_ttl
    await ctx.runs.update_pending_cancels(lambda cancels: cancels.without(run_id, now, ttl))


def stop_before_start(
    stored: StoredRun, outcome: StopOutcome, reason: str, cause: str, ctx: RouterContext
) -> tuple[StoredRun, Sequence[Event]]:
    """The run stops before any order left: nothing will be sent, one run.execution_stopped."""
    now = ctx.clock.now()
    start = stored.run.start.stopped(outcome, now, reason, cause)
    stopped = StoredRun(stored.run.with_start(start), stored.meta)
    return stopped, [stopped_event(stopped, ctx.producer, now)]


async def cancel_run(
    ctx: RouterContext, run_id: str, reason: str = RUN_CANCELED, cause: str = ""
) -> StoredRun | None:
    """Cancel a run (idempotent). Returns the run as it stands, None for an unknown run.

    Open broker orders get a cancel request; their CANCELED (or a fill that beat it) comes back
    through the stream or the reconciliation poll, which also retries what failed here.
    Raises RunBusy while another instance holds the run (nothing is done then: call again).
    """
    async with ctx.locks.hold(run_id):

        def mark_canceled(stored: StoredRun) -> tuple[StoredRun, Sequence[Event]] | None:
            run = stored.run
            if run.is_complete or run.start.stop is not None:
                return None  # nothing left to stop, or stopped already (a redelivery)
            if not has_started(stored):
                return stop_before_start(stored, StopOutcome.CANCELED, reason, cause, ctx)
            now = ctx.clock.now()
            stored, started = mark_started(stored, ctx.producer, now)  # no answer came yet
            cancellation = stored.run.cancel(now, reason, ctx.market_tz)
            start = cancellation.run.start.stopped(StopOutcome.CANCELED_MID_RUN, now, reason, cause)
            canceled = StoredRun(cancellation.run.with_start(start), stored.meta)
            events = events_for(cancellation.facts, canceled, ctx.producer, now)
            return canceled, [*started, *events, stopped_event(canceled, ctx.producer, now)]

        stored = await ctx.runs.update(run_id, mark_canceled)
        if stored is None:
            return None
        log.info("run canceled", run_id=run_id, outcome=str(stored.run.start.stop), reason=reason)
        if not stored.run.is_canceled:
            return stored  # stopped before start (or complete): nothing at the broker
        return await settle_cancellation(ctx, stored)


async def settle_cancellation(ctx: RouterContext, stored: StoredRun) -> StoredRun:
    """Resolve what a canceled run still has pending. The caller holds the run's lock and lease,
    so no submit of this run is in flight in this process or another (RunBusy if the lease was
    lost meanwhile: a lookup could then no longer prove an intent unsent)."""
    run = stored.run
    now = ctx.clock.now()
    pending = run.cancel(now, run.cancel_reason or RUN_CANCELED, ctx.market_tz)
    reports: list[Report] = []
    for coid in pending.to_look_up:
        ctx.locks.check(run.run_id)
        abandoned = OrderEvent(OrderEventKind.ABANDONED, now, reason=RUN_CANCELED)
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
