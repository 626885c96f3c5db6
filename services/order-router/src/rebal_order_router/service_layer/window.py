"""The execution window as the handlers and the dispatcher ask it (docs/design.md §3 "Execution
window"): is it open now, when does it open next, a run put back in the queue, and a started run
ended at the close.

PLATFORM orders leave only inside the window, whenever their run was stored (`dispatch.py`
checks it before every send). When it closes on a run:

- one that sent nothing yet (stored or released just before the close, a router down until
  after it) queues again for the next opening: run.execution_queued again, and the queue drain
  re-checks its prices when it starts, as for any queued run;
- one that may have sent an order (it started: an answer came, or a send was attempted) ends
  at the close, the first time the dispatcher comes to it after it: every leg never sent closes
  as expired ("execution window closed", filled 0), as the day orders at the broker expire at
  the close; a leg whose send started without an answer is looked up, never guessed (the
  broker's state if it has it, expired if it provably does not). The run then completes from
  its orders (COMPLETED_ADJUSTED). Typically these are the buys of sells that became final
  after the close (buys waiting for a sell still open at the broker expire when it ends, at
  the broker's close at the latest). They are not kept for the next opening: a kept buy would
  go out the next session at a price nobody re-checked (the price check is the queue's, for
  runs that sent nothing), a weekend wait runs into the settlement-tracker's 24 h run timeout,
  and the cash the run leaves uninvested is picked up by the next evaluation (the optimizer's
  invest_cash, in the next window). For a started run a close since its start counts too (a
  router down overnight finds the next window open, and still sends nothing of the old run).

The calendar raises LookupError for days beyond its data, and `ExecutionWindow.next_opening`
when no window falls within the sessions it searches (a window outside the session's hours).
Neither may lose a run: a Kafka handler failing on it would be retried and then dead-lettered,
and the run would vanish from the router while the settlement-tracker shows it QUEUED with
nobody left to execute or cancel it. So an unknown opening queues the run without a start time
(stored, cancelable, started by the queue drain once the window is open) and logs an error
naming the run; a window that cannot be told open counts as closed, so nothing is sent (and a
started run's legs are not closed on a guess either: the dispatcher tries again later).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from rebal_order_router.domain import (
    WINDOW_CLOSED,
    BrokerError,
    OrderEvent,
    OrderEventKind,
    StoredRun,
    event_from_broker_order,
    never_sent,
    unanswered,
)
from rebal_order_router.service_layer.context import (
    Report,
    RouterContext,
    RunLease,
    apply_reports,
    reports_step,
)
from rebal_order_router.service_layer.execution_events import queued_events
from rebal_runtime.log import get_logger
from rebal_schemas import Event

log = get_logger(__name__)

_NO_WINDOW = (
    "no execution window known (the trading calendar's data or the window settings): "
    "nothing is sent; fix the calendar"
)


def window_open(ctx: RouterContext, now: datetime, run_id: str) -> bool:
    """Whether orders may leave now; False when the calendar cannot tell."""
    try:
        return ctx.window.is_open(now)
    except LookupError as exc:
        log.error(_NO_WINDOW, run_id=run_id, error=str(exc))
        return False


def next_opening(ctx: RouterContext, now: datetime, run_id: str) -> datetime | None:
    """When the window opens next (`now` if open); None when the calendar cannot tell."""
    try:
        return ctx.window.next_opening(now)
    except LookupError as exc:
        log.error(
            _NO_WINDOW + "; the run waits without a start time", run_id=run_id, error=str(exc)
        )
        return None


def queue_run(
    ctx: RouterContext, stored: StoredRun, now: datetime
) -> tuple[StoredRun, Sequence[Event]]:
    """The run waiting for the next opening, with its run.execution_queued (none without a
    start time). For a new run, or one that sent nothing when the window closed on it."""
    starts_at = next_opening(ctx, now, stored.run.run_id)
    start = stored.run.start.queue(now, starts_at)
    queued = StoredRun(stored.run.with_start(start), stored.meta)
    return queued, queued_events(queued, ctx.producer, now)


def open_for_started(ctx: RouterContext, stored: StoredRun, now: datetime) -> bool | None:
    """Whether a started run's orders may still leave: the window is open and has not closed
    since the run started. None when the calendar cannot tell."""
    started_at = stored.run.start.started_at
    try:
        if started_at is None:  # a send started, no answer yet: the window now decides
            return ctx.window.is_open(now)
        return ctx.window.open_since(started_at, now)
    except LookupError as exc:
        log.error(_NO_WINDOW, run_id=stored.run.run_id, error=str(exc))
        return None


def _closing(at: datetime) -> OrderEvent:
    return OrderEvent(OrderEventKind.WINDOW_CLOSED, at, reason=WINDOW_CLOSED)


def close_unsent_step(
    ctx: RouterContext, stored: StoredRun, now: datetime
) -> tuple[StoredRun, Sequence[Event]] | None:
    """The window closed on a started run: its legs never sent expire, with their order.closed,
    in one commit (None when there are none: closed already, a redelivery or a second poll)."""
    closes: list[Report] = [(coid, _closing(now)) for coid in never_sent(stored)]
    if closes:
        log.info("window closed; the run's unsent legs expire", run_id=stored.run.run_id)
    return reports_step(ctx, closes)(stored)


async def resolve_at_close(ctx: RouterContext, stored: StoredRun, lease: RunLease) -> bool:
    """Look up the legs of a run ended at the close whose send started without an answer:
    what the broker says of each, or expired when it has none. The caller holds the run's
    lease, so no send of the run is in flight. False when a leg is still unresolved (the
    broker unreachable): the dispatcher retries after a backoff."""
    run = stored.run
    reports: list[Report] = []
    pending = unanswered(stored)
    for coid in pending:
        lease.check()
        try:
            found = await ctx.broker.get_order_by_client_order_id(run.account_id, coid)
        except BrokerError as exc:
            log.warning("lookup at the close failed; retried", client_order_id=coid, error=str(exc))
            continue
        now = ctx.clock.now()
        report = _closing(now) if found is None else event_from_broker_order(found, now)
        if report is None:  # a status the router does not track: asked again later
            log.warning("unexpected broker status at the close", client_order_id=coid)
            continue
        reports.append((coid, report))
    await apply_reports(ctx, run.run_id, reports)
    return len(reports) == len(pending)
