"""optimization.ready -> a stored `RunExecution`: every intent with its deterministic
client_order_id is committed BEFORE anything is sent (docs/design.md §4 "Broker orders").

Inside the execution window the run may send at once (the dispatcher is woken); outside it the
run is stored QUEUED with the next opening, and `run.execution_queued` is published in the same
commit (docs/design.md §3 "Execution window"); the queue drain starts it then. A calendar that
cannot say when the window opens queues the run without a start time (`service_layer/window.py`).

A cancel read before the run (`domain/pending_cancel.py`) was kept: the run is then stored
already stopped as `canceled`, its run.execution_stopped naming the request, and nothing is ever
sent. The cancel handler writes its kept cancel, then reads the run; this handler stores the run,
then reads the kept cancels again: whichever way the two interleave, one of them sees the other.
A batch of readies (the Kafka entry point) reads the kept cancels once before storing its runs
and once after storing them all, not twice per run; the same argument holds for each of them.
Its runs are stored together: one commit of their client_order_id refs, one of the runs.
"""

from __future__ import annotations

from collections.abc import Sequence

from rebal_order_router.domain import (
    OrderIntent,
    OrderSide,
    PendingCancel,
    PendingCancels,
    RunExecution,
    RunMeta,
    StopOutcome,
    StoredRun,
    leg_id,
)
from rebal_order_router.service_layer.cancel import (
    cancel_kept,
    forget_kept_cancel,
    kept_cancel,
    stop_before_start,
)
from rebal_order_router.service_layer.context import RouterContext
from rebal_order_router.service_layer.window import queue_run, window_open
from rebal_runtime.log import get_logger
from rebal_schemas import BrokerIntegration, Event, OptimizationReady, PlannedOrder, PoisonMessage

log = get_logger(__name__)


def _intent(order: PlannedOrder) -> OrderIntent:
    side = OrderSide(order.side.value)
    return OrderIntent(
        leg=leg_id(order.leg, side, order.symbol),
        symbol=order.symbol,
        side=side,
        qty=order.qty,
        notional=order.notional,
        expected_price=order.expected_price,
    )


def plan_run(event: OptimizationReady) -> StoredRun:
    """The run to store for a PLATFORM optimization.ready; PoisonMessage if it cannot be run."""
    try:
        intents = [_intent(order) for order in event.orders]
        run = RunExecution.plan(
            event.optimization_id, event.portfolio_id, event.account_id, intents
        )
    except ValueError as exc:
        raise PoisonMessage(f"optimization {event.optimization_id}: {exc}") from exc
    # schema leg (int, kept for the published events) of each domain leg (a string id)
    schema_leg = {
        intent.leg: order.leg for intent, order in zip(intents, event.orders, strict=True)
    }
    meta = RunMeta(
        ready_event_id=event.event_id,
        correlation_id=event.correlation_id or event.optimization_id,
        schema_legs={o.client_order_id: schema_leg[o.leg] for o in run.orders},
    )
    return StoredRun(run, meta)


async def on_optimization_ready(ctx: RouterContext, event: OptimizationReady) -> bool:
    """Store the run of a PLATFORM optimization and wake the dispatcher. Returns True when a
    new run was stored; CLIENT runs (the client's middleware executes them), empty runs and
    redeliveries change nothing."""
    return bool(await on_optimization_ready_batch(ctx, [event]))


async def on_optimization_ready_batch(
    ctx: RouterContext, events: Sequence[OptimizationReady]
) -> list[str]:
    """`on_optimization_ready` for each event, in order, reading the kept cancels twice per
    batch rather than twice per run: once before storing (a run canceled first is stored
    stopped and never queues) and once after every run is stored (a cancel kept meanwhile).
    Returns the run ids newly stored."""
    plans = [plan for event in events if (plan := _routed(event)) is not None]
    if not plans:
        return []
    cancels = await ctx.runs.pending_cancels()
    prepared = [_prepare(ctx, stored, event, cancels) for stored, event in plans]
    created = await ctx.runs.create_many(
        [(stored, event.event_id, publish) for stored, event, publish, _ in prepared]
    )
    created_ids: list[str] = []
    stored_without_cancel: dict[str, StoredRun] = {}
    for (stored, _, _, kept), new in zip(prepared, created, strict=True):
        run_id = stored.run.run_id
        if kept is not None:
            if not new:  # stored without it before (a redelivery after that race)
                await cancel_kept(ctx, kept)
            await forget_kept_cancel(ctx, run_id)
        else:
            stored_without_cancel[run_id] = stored
        if new:
            created_ids.append(run_id)
        _log_stored(stored, new)
    # even for a redelivery: harmless, and it covers a run stored just before a crash
    ctx.wake_dispatcher()
    if stored_without_cancel:
        # a cancel that read no run while these were being stored, kept since
        cancels = await ctx.runs.pending_cancels()
        for run_id, stored in stored_without_cancel.items():
            late = kept_cancel(ctx, cancels, run_id, stored.run.portfolio_id)
            if late is not None:
                await cancel_kept(ctx, late)
                await forget_kept_cancel(ctx, run_id)
    return created_ids


def _routed(event: OptimizationReady) -> tuple[StoredRun, OptimizationReady] | None:
    if event.broker_integration is not BrokerIntegration.PLATFORM:
        log.info("client-integrated run; not routed", run_id=event.optimization_id)
        return None
    if not event.orders:
        log.info("run without orders; nothing to route", run_id=event.optimization_id)
        return None
    return plan_run(event), event


def _prepare(
    ctx: RouterContext, stored: StoredRun, event: OptimizationReady, cancels: PendingCancels
) -> tuple[StoredRun, OptimizationReady, Sequence[Event], PendingCancel | None]:
    """The run to store as `cancels` (read before) say: stopped when a cancel came first,
    queued outside the window; with what its creation publishes and the cancel it is stored
    with."""
    kept = kept_cancel(ctx, cancels, stored.run.run_id, event.portfolio_id)
    publish: Sequence[Event] = ()
    if kept is not None:  # canceled before it was stored: it never queues nor sends
        stored, publish = stop_before_start(
            stored, StopOutcome.CANCELED, kept.reason, kept.request_event_id, ctx
        )
    else:
        now = ctx.clock.now()
        if not window_open(ctx, now, stored.run.run_id):
            stored, publish = queue_run(ctx, stored, now)
    return stored, event, publish, kept


def _log_stored(stored: StoredRun, created: bool) -> None:
    run = stored.run
    run_id = run.run_id
    if not created:
        log.info("run already stored; redelivery ignored", run_id=run_id)
    elif run.start.stop is not None:
        log.info("run stored canceled: its cancel came first", run_id=run_id)
    elif run.start.waiting:
        log.info(
            "run queued until the window opens", run_id=run_id, starts_at=str(run.start.starts_at)
        )
    else:
        log.info("run stored", run_id=run_id, orders=len(run.orders))
