"""What the order-router, the client and the deadline say about a run's execution: the Run's
commands for it (queued, started, cancel requested, canceled, stopped, timed out), and the late
facts that arrive after the run ended.

Pure functions of a `Run` (the aggregate's methods delegate here). The order-router executes
PLATFORM runs only: its queued / started / stopped reports of a CLIENT run are refused once the
plan says CLIENT, and dropped if they came before it.

A *late* fill is one that comes after the run's end fixed the leg's outcome: after a TIMEOUT,
any leg (its orders were still out there; the deadline only stopped waiting for them); after a
cancel that closed the open legs at once, a leg without an outcome of its own (no close, nothing
executed: `RunStop.close_open_leg`). What it adds beyond what the run reported for the leg (the
increment, `late_increment`) is kept apart (`Run.late_fills`) and settles as a transaction of its
own (`late_transactions`: its transaction.settled, marked late, is the only report of it), never
part of what run.completed and run.settled said: the run does not reopen. A late close adds
nothing (the leg's outcome was fixed at the end).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from rebal_settlement_tracker.domain.acceptance import PLATFORM
from rebal_settlement_tracker.domain.errors import (
    CancelOfFinalRun,
    CancelOfUnknownRun,
    DuplicateCancel,
    DuplicateFill,
    DuplicateStatus,
    IllegalTransition,
    InvalidEvent,
    RunAlreadyCompleted,
)
from rebal_settlement_tracker.domain.facts import merge_fill
from rebal_settlement_tracker.domain.stop import RunStop, StopKind, timeout_reason
from rebal_settlement_tracker.domain.transaction import (
    ZERO,
    OrderFilled,
    Transaction,
    require_aware,
)

if TYPE_CHECKING:
    from rebal_settlement_tracker.domain.run import Run


def require_platform(run: Run, what: str) -> None:
    """Refuse an execution report of a run whose plan says CLIENT (no order-router runs it)."""
    integration = run.terms.broker_integration
    if run.is_planned and integration != PLATFORM:
        raise IllegalTransition(
            f"run {run.run_id} is {integration}: the order-router reports no execution "
            f"({what}) of it"
        )


def without_foreign_execution(run: Run) -> Run:
    """The just planned run without the execution reports kept before its plan said CLIENT."""
    if run.terms.broker_integration == PLATFORM:
        return run
    return replace(run, execution_starts_at=None, execution_started_at=None, stop=None)


def queued(run: Run, starts_at: datetime) -> Run:
    """The run waits until `starts_at`. The router queues a run again, with a later start, when
    the window closed before its first order left (a new event, `queued.<n>`): the latest start
    stands, so an older queuing read again changes nothing. DuplicateStatus when the start is
    known, older, or moot: once the run started (the router only queues again a run that sent
    nothing, and said nothing had started: the run never goes back from IN_PROGRESS) or ended."""
    require_aware(starts_at, "starts_at")
    require_platform(run, "queued")
    known = run.execution_starts_at
    if (known is not None and starts_at <= known) or run.started or run.is_completed:
        raise DuplicateStatus(f"run {run.run_id}: queued start known, older or moot")
    return replace(run, execution_starts_at=starts_at)


def started(run: Run, at: datetime) -> Run:
    require_aware(at, "started_at")
    require_platform(run, "started")
    if run.execution_started_at is not None or run.is_completed:
        raise DuplicateStatus(f"run {run.run_id}: execution start already known")
    return replace(run, execution_started_at=at)


def cancel_requested(run: Run, portfolio_id: str, at: datetime, request: str | None) -> Run:
    require_aware(at, "requested_at")
    if not run.is_planned or portfolio_id != run.portfolio_id:
        raise CancelOfUnknownRun(f"no run {run.run_id} for portfolio {portfolio_id}")
    if run.is_completed:
        raise CancelOfFinalRun(f"run {run.run_id} is already {run.status.value}")
    if run.cancel_requested_at is not None:
        raise DuplicateCancel(f"run {run.run_id}: cancel already requested")
    return replace(run, cancel_requested_at=at, cancel_request_id=request)


def unanswered_cancel(run: Run) -> str | None:
    """The event id of the cancel request the ended run did not answer: one recorded on it (a
    PLATFORM run's, left to the order-router) whose run ended by another way than a stop naming
    it: every order final before the router stopped it, or the deadline. No final status change
    names that request then, so the client asking would wait for ever."""
    request = run.cancel_request_id
    if request is None or not run.is_completed:
        return None
    return None if run.stop is not None and run.stop.cause == request else request


def canceled(run: Run, stop: RunStop) -> Run:
    """The tracker ends the run itself (a CLIENT run's cancel)."""
    require_aware(stop.at, "now")
    if run.is_completed:
        raise RunAlreadyCompleted(f"run {run.run_id} already completed")
    if run.stop is not None and run.stop.is_cancel:
        raise DuplicateCancel(f"run {run.run_id} already canceled")
    return replace(run, stop=stop)


def stopped(run: Run, stop: RunStop) -> Run:
    """The order-router stopped the run: moot (DuplicateStatus) once it ended or stopped."""
    require_aware(stop.at, "stopped_at")
    require_platform(run, "stopped")
    if stop.kind is StopKind.TIMEOUT:
        raise InvalidEvent("only the tracker times a run out")
    if run.is_completed or run.stop is not None:
        raise DuplicateStatus(f"run {run.run_id}: already ended or stopped; the stop is moot")
    return replace(run, stop=stop)


def timed_out(run: Run, now: datetime) -> Run:
    """The run's open legs EXPIRE now (a stop still waiting for closes is superseded)."""
    require_aware(now, "now")
    if not run.is_planned or run.is_completed:
        raise DuplicateStatus(f"run {run.run_id}: not running; nothing to time out")
    if run.stop is not None and run.stop.kind is StopKind.TIMEOUT:
        raise DuplicateStatus(f"run {run.run_id}: already timed out")
    legs = run.transactions.values()
    open_legs = sum(1 for tx in legs if not tx.is_order_final)
    before = f"{run.stop.reason}; then " if run.stop is not None and run.stop.reason else ""
    reason = before + timeout_reason(open_legs, len(legs))
    return replace(run, stop=RunStop(StopKind.TIMEOUT, now, reason))


def awaits_stop(run: Run) -> bool:
    """The order-router closed a leg because the run was canceled (order.closed `run_canceled`)
    and its stop was not read yet. It commits the stop with those closes, but they come on other
    topics, in no order with it: completing the run from its closes now would end it
    COMPLETED_ADJUSTED, and the stop then be moot. So the run waits for the stop
    (CANCELED_MID_RUN), or for its deadline if the stop never comes (the TIMEOUT stop ends the
    wait). Only the router's closes of PLATFORM runs say so; the flag on a CLIENT run's close
    promises nothing."""
    if run.stop is not None or run.terms.broker_integration != PLATFORM:
        return False
    return any(close.run_canceled for close in run.closes.values())


def is_late(run: Run, leg: int) -> bool:
    """A fact for `leg` comes after the run's end fixed the leg's outcome (module docstring)."""
    stop = run.stop
    if not run.is_completed or stop is None or not stop.closes_open_legs:
        return False
    if stop.kind is StopKind.TIMEOUT:
        return True
    return leg not in run.closes and leg not in run.fills


def late_increment(reported: OrderFilled | None, fill: OrderFilled) -> OrderFilled:
    """What the cumulative `fill` adds to the `reported` one: the quantity beyond it, at the
    average price of those shares alone (their amount is the report's less the reported one's),
    so that the run's report plus the increment is the broker's whole fill. DuplicateFill when it
    adds no quantity (a replay, an older report, what the run had)."""
    base_qty, base_amount = (
        (reported.cum_qty, reported.cum_qty * reported.avg_price) if reported else (ZERO, ZERO)
    )
    qty = fill.cum_qty - base_qty
    if qty <= ZERO:
        raise DuplicateFill(f"cum_qty {fill.cum_qty} adds nothing to the reported {base_qty}")
    amount = fill.cum_qty * fill.avg_price - base_amount
    # Averages that do not add up (the later one far below the earlier) leave the increment no
    # price of its own: the report's average is then the best there is.
    price = amount / qty if amount > ZERO else fill.avg_price
    return replace(fill, cum_qty=qty, avg_price=price)


def with_late_fill(run: Run, leg: int, fill: OrderFilled) -> Run:
    """`fill`'s increment kept as the late fill of `leg`; DuplicateFill when it adds nothing."""
    try:
        increment = late_increment(run.fills.get(leg), fill)
    except DuplicateFill as duplicate:
        raise DuplicateFill(f"run {run.run_id} leg {leg}: late {duplicate}") from None
    known = run.late_fills.get(leg)
    merged = merge_fill(known, increment)  # the reported fill is fixed: increments merge as fills
    if merged == known:
        raise DuplicateFill(f"run {run.run_id} leg {leg}: late cum_qty {fill.cum_qty} known")
    if leg in run.late_settlements:
        raise IllegalTransition(f"run {run.run_id} leg {leg}: its late execution already settled")
    return replace(run, late_fills={**run.late_fills, leg: merged})


def late_transactions(run: Run) -> dict[int, Transaction]:
    """A transaction per leg with a late fill: the increment alone, closed as the run's end closed
    open legs (it waits for nothing more), settled on a date of its own."""
    close = run.stop.close_open_leg() if run.stop is not None else None
    return {
        order.leg: order.transaction(
            run.late_fills[order.leg], close, run.late_settlements.get(order.leg)
        )
        for order in run.orders or ()
        if order.leg in run.late_fills
    }
