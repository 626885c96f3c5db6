"""The queue of runs waiting for the execution window (docs/design.md §3 "Execution window").

- `QueueDrain`: a `PeriodicTask` on the context's clock. Once the window is open it starts the
  QUEUED runs, oldest first (by the time they were queued, then run id), at most `rate` a second
  (`rebal_runtime.rate.TokenBucket` on the same clock, holding at most one poll's worth, at
  least one run). The broker's own limits then pace the orders (`adapters/broker_limits.py`).
- `start_queued_run`: the re-check at the start. The last price of every planned symbol is
  compared with the plan's expected price; a move beyond the tolerance stops the run as
  `replan` (no order sent, run.execution_stopped with the symbols and moves); otherwise the run
  is released to the dispatcher, which publishes run.execution_started with its first order.
- `on_model_status_changed`: a model that became `needs_adjustment` cancels the queued runs
  trading one of its symbols (`canceled`, the reason names the model and the symbols).
- `on_price_updated`: market.prices keeps the last price per symbol (the router's own store).

Every step is one commit of the run with its event, decided on the run's current state (a
version conflict re-runs it), so a redelivery or a second instance draining the same queue
changes nothing twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from rebal_order_router.domain import (
    StopOutcome,
    StoredRun,
    price_moves,
    replan_reason,
)
from rebal_order_router.service_layer.cancel import stop_before_start
from rebal_order_router.service_layer.context import RouterContext
from rebal_runtime.log import get_logger
from rebal_runtime.periodic import PeriodicTask
from rebal_runtime.rate import TokenBucket
from rebal_schemas import Event, ModelStatus, ModelStatusChanged, PriceUpdated

log = get_logger(__name__)


async def on_price_updated(ctx: RouterContext, event: PriceUpdated) -> bool:
    if ctx.prices is None:
        return False
    return await ctx.prices.record(event.symbol, event.price, event.as_of)


async def start_queued_run(ctx: RouterContext, run_id: str) -> StoredRun | None:
    """Release a waiting run, or stop it for a re-plan; None when it was not waiting (started
    or stopped meanwhile, unknown)."""
    stored = await ctx.runs.get(run_id)
    if stored is None or not stored.run.start.waiting:
        return None
    symbols = {o.symbol for o in stored.run.orders}
    last = await ctx.prices.last_prices(symbols) if ctx.prices is not None else {}
    changed = False

    def start(current: StoredRun) -> tuple[StoredRun, Sequence[Event]] | None:
        nonlocal changed
        changed = False
        run = current.run
        if not run.start.waiting:
            return None
        changed = True
        expected = ((o.symbol, o.expected_price) for o in run.orders)
        moves = price_moves(expected, last, ctx.price_tolerance)
        if moves:
            reason = replan_reason(moves, ctx.price_tolerance)
            return stop_before_start(current, StopOutcome.REPLAN, reason, "", ctx)
        released = run.with_start(run.start.release(ctx.clock.now()))
        return StoredRun(released, current.meta), ()

    updated = await ctx.runs.update(run_id, start)
    if not changed or updated is None:
        return None
    if updated.run.start.stop is StopOutcome.REPLAN:
        log.warning(
            "queued run stopped for a re-plan", run_id=run_id, reason=updated.run.start.stop_reason
        )
    else:
        log.info("queued run started", run_id=run_id)
        ctx.wake_dispatcher()
    return updated


async def on_model_status_changed(ctx: RouterContext, event: ModelStatusChanged) -> int:
    """Cancel the queued runs with a symbol of a model that needs adjustment; returns how many."""
    if event.status is not ModelStatus.needs_adjustment or not event.symbols:
        return 0
    symbols = set(event.symbols)
    canceled = 0
    for run_id in await ctx.runs.queued_runs():
        stored = await ctx.runs.get(run_id)
        hit = sorted(symbols & {o.symbol for o in stored.run.orders}) if stored else []
        if not hit:
            continue
        reason = f"model {event.model_id} needs adjustment: {', '.join(hit)}"
        if event.reason:
            reason += f" ({event.reason})"

        def cancel(
            current: StoredRun, reason: str = reason
        ) -> tuple[StoredRun, Sequence[Event]] | None:
            if not current.run.start.waiting:
                return None
            return stop_before_start(current, StopOutcome.CANCELED, reason, event.event_id, ctx)

        updated = await ctx.runs.update(run_id, cancel)
        if updated is not None and updated.run.start.stop_cause == event.event_id:
            canceled += 1
            log.info("queued run canceled", run_id=run_id, reason=reason)
    return canceled


class QueueDrain:
    def __init__(
        self, ctx: RouterContext, *, rate: float = 10.0, poll_seconds: float = 1.0
    ) -> None:
        if rate <= 0:
            raise ValueError("the start rate must be > 0")
        self.ctx = ctx
        self.rate = rate
        # one poll's worth: a round after a long pause starts no more than a regular one
        self.bucket = TokenBucket(rate, capacity=max(1.0, rate * poll_seconds))
        self._order: dict[str, tuple[datetime, str]] = {}  # run id -> its place in the queue
        self.task = PeriodicTask("order-router-queue", self.drain_once, poll_seconds, ctx.clock)
        self.started = 0  # runs released to the dispatcher (tests and benchmarks read it)
        self.replans = 0

    async def start(self) -> None:
        await self.task.start()

    async def stop(self) -> None:
        await self.task.stop()

    async def queue(self) -> list[str]:
        """The waiting runs, oldest first."""
        waiting = await self.ctx.runs.queued_runs()
        present = set(waiting)
        for run_id in [r for r in self._order if r not in present]:
            del self._order[run_id]
        for run_id in waiting:
            if run_id in self._order:
                continue
            stored = await self.ctx.runs.get(run_id)
            queued_at = stored.run.start.queued_at if stored is not None else None
            if queued_at is not None:
                self._order[run_id] = (queued_at, run_id)
        return [
            run_id for run_id in sorted(present & self._order.keys(), key=self._order.__getitem__)
        ]

    async def drain_once(self) -> int:
        """One round: start as many queued runs as the rate allows; returns how many."""
        now = self.ctx.clock.now()
        if not self.ctx.window.is_open(now):
            return 0
        if self.bucket.available(now) < 1:
            return 0
        done = 0
        for run_id in await self.queue():
            if self.bucket.available(now) < 1:
                break
            started = await start_queued_run(self.ctx, run_id)
            self._order.pop(run_id, None)
            if started is None:
                continue  # not waiting any more (another instance, a cancel): costs nothing
            self.bucket.take(now)
            done += 1
            if started.run.start.stop is StopOutcome.REPLAN:
                self.replans += 1
            else:
                self.started += 1
        return done
