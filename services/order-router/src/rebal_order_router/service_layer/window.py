"""The execution window as the handlers and the dispatcher ask it (docs/design.md §3 "Execution
window"): is it open now, when does it open next, and a run put back in the queue.

PLATFORM orders leave only inside the window, whenever their run was stored (`dispatch.py`
checks it before every send). When it closes on a run:

- one that sent nothing yet (stored or released just before the close, a router down until
  after it) queues again for the next opening: run.execution_queued again, and the queue drain
  re-checks its prices when it starts, as for any queued run;
- one that may have sent an order (it started: an answer came, or a send was attempted) keeps
  its unsent orders, typically the buys waiting for sells that became final after the close,
  and sends them at the next opening, with their planned sizes. It is an Alpaca run in
  progress, and Alpaca too keeps an order placed after hours for the next open. Closing them
  instead would end the run with the account in the cash of its sells until some later
  evaluation re-plans it (a cooldown may be days): not what anyone who asked for a rebalance
  expects. Orders already at the broker are day orders and expire at the close on their own.

The calendar raises LookupError for days beyond its data, and `ExecutionWindow.next_opening`
when no window falls within the sessions it searches (a window outside the session's hours).
Neither may lose a run: a Kafka handler failing on it would be retried and then dead-lettered,
and the run would vanish from the router while the settlement-tracker shows it QUEUED with
nobody left to execute or cancel it. So an unknown opening queues the run without a start time
(stored, cancelable, started by the queue drain once the window is open) and logs an error
naming the run; a window that cannot be told open counts as closed, so nothing is sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from rebal_order_router.domain import StoredRun
from rebal_order_router.service_layer.context import RouterContext
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
