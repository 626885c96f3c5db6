"""The dispatcher: sends the sendable orders of stored runs, exactly once.

Per run (under the run's lock): read the sendable intents (sells; buys once every sell is
final), mark them `attempted` in one commit, send them concurrently with `submit_exactly_once`,
then record every answer in one commit that also publishes the resulting facts. An intent that
was already `attempted` (a crash, or a broker outage, interrupted it) is LOOKED UP by
client_order_id first and only submitted when the broker proves it never got it; should a
lost request still land afterwards, the broker refuses the resubmission as a duplicate and the
order is adopted. Either way the order reaches the broker once.

A run whose broker calls failed (broker down) stays PENDING_SUBMIT and is retried with a
per-run backoff (`rebal_runtime.backoff.Backoff` from `poll_seconds` up to
`backoff_max_seconds`, in real time like the run leases it may wait out); the `needs_dispatch`
index finds such runs again after a restart.

Orders leave only while the execution window is open, whenever the run was stored: the window
is checked at every phase (buys whose sells became final after the close) and before every
submit (retries within one attempt). A run the window closed on queues again if it sent nothing
yet; a started one ends at the close instead, its legs never sent closed as expired and those
that may have been sent looked up (`window.close_unsent_step`, `window.resolve_at_close`); why,
in `service_layer/window.py`.

The polling loop is a `rebal_runtime.periodic.PeriodicTask` on the context's clock: a round every
`poll_seconds` or as soon as `wake()` is called; a stop lets the round in progress finish (it only
starts run tasks), then gives the runs in flight `stop_timeout_seconds`.

`max_runs` bounds the runs worked on at once (the service sets it from the broker's in-flight
cap). Past what the broker's slots can serve, a run in flight only waits for one, holding its
lease, which it renews meanwhile; and a round that reads every run needing dispatch costs as
much as the backlog is long, once per wake-up. So after a model change a round starts only as
many runs as there is room for, read from the `needs_dispatch` index a page at a time from where
the last round stopped, wrapping around at its end: every run gets its turn in one lap, whatever
ids arrive meanwhile, and a run finishing frees its place at once (a wake-up).

Two instances sharing the store both see every run (the `needs_dispatch` poll, the trade-update
stream that wakes them): the run's store lease (`RunLocks.hold`) lets one of them work on it at
a time, from before the intents are marked `attempted` until the answers are recorded. The other
skips the run (RunBusy: no backoff) and, when it gets the lease later, reads what was recorded
and sends nothing twice. A holder that lost its lease (stalled longer than the lease) starts no
further broker call for the run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from rebal_order_router.domain import (
    OrderStatus,
    StoredRun,
    has_started,
)
from rebal_order_router.service_layer.context import (
    Report,
    RouterContext,
    RunBusy,
    apply_reports,
)
from rebal_order_router.service_layer.dispatch_turns import runs_in_turn
from rebal_order_router.service_layer.order_send import send_order
from rebal_order_router.service_layer.window import (
    close_unsent_step,
    open_for_started,
    queue_run,
    resolve_at_close,
    window_open,
)
from rebal_runtime.backoff import Backoff
from rebal_runtime.log import get_logger
from rebal_runtime.periodic import PeriodicTask
from rebal_schemas import Event

log = get_logger(__name__)


class Dispatcher:
    def __init__(
        self,
        ctx: RouterContext,
        *,
        poll_seconds: float = 1.0,
        backoff_max_seconds: float = 30.0,
        stop_timeout_seconds: float = 10.0,
        max_runs: int | None = None,
    ) -> None:
        if max_runs is not None and max_runs < 1:
            raise ValueError("max_runs must be at least 1")
        self.ctx = ctx
        self.poll_seconds = poll_seconds
        self.backoff_max_seconds = backoff_max_seconds
        self.backoff = Backoff(poll_seconds, backoff_max_seconds)
        self.stop_timeout_seconds = stop_timeout_seconds
        self.task = PeriodicTask(
            "order-router-dispatcher", self.dispatch_pending, poll_seconds, ctx.clock
        )
        self.max_runs = max_runs  # None: every run with work at once
        self._runs: dict[str, asyncio.Task[None]] = {}
        self._cursor: str | None = None  # the run a capped round started last
        self._failures: dict[str, int] = {}
        self._not_before: dict[str, float] = {}
        self._stopping = False
        self.sent = 0  # orders answered by the broker (tests and benchmarks read it)
        self.skipped = 0  # rounds left to another instance holding the run's lease

    def wake(self) -> None:
        self.task.wake()

    async def start(self) -> None:
        self._stopping = False
        await self.task.start()

    async def stop(self) -> None:
        """Stop scheduling (the round in progress starts no more runs); give in-flight runs a
        moment, then cancel them. A cancelled send is safe: its intent is `attempted`, so the
        next start looks it up before anything else."""
        self._stopping = True
        await self.task.stop()
        running = list(self._runs.values())
        if running:
            _, pending = await asyncio.wait(running, timeout=self.stop_timeout_seconds)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def dispatch_pending(self) -> None:
        """Start a task for the runs with work that are not already running or backing off:
        all of them, or as many as `max_runs` leaves room for. One round of the loop; a round
        that fails (store down) is logged and the next poll tries again."""
        now = time.monotonic()
        if self.max_runs is None:
            for run_id in await self.ctx.runs.runs_needing_dispatch():
                if self._stopping:
                    return
                if self._startable(run_id, now):
                    self._start(run_id)
            return
        await self._start_next(self.max_runs - len(self._runs), now)

    async def _start_next(self, room: int, now: float) -> None:
        """Start up to `room` runs, the first ones after the cursor, wrapping around once."""
        chosen = await runs_in_turn(
            self.ctx.runs, self._cursor, room, lambda run_id: self._startable(run_id, now)
        )
        for run_id in chosen:
            if self._stopping:
                return
            self._start(run_id)
            self._cursor = run_id

    def _startable(self, run_id: str, now: float) -> bool:
        return run_id not in self._runs and self._not_before.get(run_id, 0.0) <= now

    def _start(self, run_id: str) -> None:
        self._runs[run_id] = asyncio.create_task(
            self._dispatch_task(run_id), name=f"dispatch-{run_id}"
        )

    async def _dispatch_task(self, run_id: str) -> None:
        try:
            completed = await self.dispatch_run(run_id)
        except RunBusy as exc:
            # another instance works on it: no backoff, the next poll or report looks again
            self.skipped += 1
            log.debug("run held by another instance; skipped", run_id=run_id, reason=str(exc))
            return
        except Exception as exc:
            log.warning("dispatching a run failed; will retry", run_id=run_id, error=repr(exc))
            completed = False
        finally:
            self._runs.pop(run_id, None)
            if self.max_runs is not None:
                self.wake()  # its place is free: the next run waiting may start
        if completed:
            self._failures.pop(run_id, None)
            self._not_before.pop(run_id, None)
            # a report may have made more orders sendable while this task was finishing (its
            # wake-up found the run busy): look again now rather than at the next poll
            self.wake()
            return
        failures = self._failures.get(run_id, 0) + 1
        self._failures[run_id] = failures
        self._not_before[run_id] = time.monotonic() + self.backoff.delay(failures - 1)

    async def dispatch_run(self, run_id: str) -> bool:
        """Send what the run allows, phase after phase. False when a broker call failed and the
        run must be retried later; True when nothing is left to send right now. Raises RunBusy
        when another instance holds the run (or took it over meanwhile)."""
        async with self.ctx.locks.hold(run_id) as lease:
            while True:
                lease.check()
                previously_attempted: frozenset[str] = frozenset()
                closing = unknown = False

                def mark_attempted(stored: StoredRun) -> tuple[StoredRun, Sequence[Event]] | None:
                    nonlocal previously_attempted, closing, unknown
                    previously_attempted = stored.meta.attempted
                    sendable = [o.client_order_id for o in stored.run.sendable()]
                    closing = unknown = False
                    if not sendable:
                        return None
                    now = self.ctx.clock.now()
                    if has_started(stored):  # an order may have left: the run ends at the close
                        still_open = open_for_started(self.ctx, stored, now)
                        unknown, closing = still_open is None, still_open is False
                        if unknown:
                            return None
                        if closing:
                            return close_unsent_step(self.ctx, stored, now)
                    elif not window_open(self.ctx, now, run_id):
                        log.info("window closed before the first order; queued", run_id=run_id)
                        return queue_run(self.ctx, stored, now)
                    if all(coid in stored.meta.attempted for coid in sendable):
                        return None
                    return StoredRun(stored.run, stored.meta.with_attempted(sendable)), ()

                stored = await self.ctx.runs.update(run_id, mark_attempted)
                if stored is None:
                    return True
                if unknown:
                    return False  # the calendar cannot tell: nothing sent, nothing closed; retried
                if closing:
                    return await resolve_at_close(self.ctx, stored, lease)
                sendable = stored.run.sendable()
                if not sendable:
                    return True
                results = await asyncio.gather(
                    *(
                        send_order(
                            self.ctx,
                            stored,
                            order,
                            order.client_order_id in previously_attempted,
                            lease,
                        )
                        for order in sendable
                    )
                )
                self.sent += sum(r.answered for r in results)
                reports: list[Report] = [
                    (r.client_order_id, r.report) for r in results if r.report is not None
                ]
                updated = await apply_reports(self.ctx, run_id, reports)  # even if lost: facts
                lease.check()
                if len(reports) < len(results) or updated is None:
                    return False
                if any(coid in _pending(updated) for coid, _ in reports):
                    # the broker's answer did not move the order on (an odd snapshot): back
                    # off instead of looking it up again and again
                    log.warning("broker answers left orders pending", run_id=run_id)
                    return False
                if not updated.run.sendable():
                    # the next phase waits for fills: no need to read the run again to find
                    # that out (a fill applied meanwhile wakes the dispatcher)
                    return True


def _pending(stored: StoredRun) -> set[str]:
    return {o.client_order_id for o in stored.run.orders if o.status is OrderStatus.PENDING_SUBMIT}
