"""A run's execution start as a pure state: queued, released, started, stopped (each once), and
the price re-check at a queued start."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from rebal_order_router.domain import (
    ExecutionStart,
    OrderIntent,
    OrderSide,
    PriceMove,
    RunExecution,
    StartError,
    StopOutcome,
    price_moves,
    replan_reason,
)

AT = datetime(2026, 3, 10, 7, 0, tzinfo=UTC)
OPENS = datetime(2026, 3, 10, 13, 30, tzinfo=UTC)


def test_a_queued_run_waits_sends_nothing_and_is_released_once() -> None:
    run = RunExecution.plan(
        "run-1",
        "pf-1",
        "acct-1",
        [OrderIntent("001.sell.AAPL", "AAPL", OrderSide.SELL, qty=Decimal(1))],
    )
    queued = run.with_start(run.start.queue(AT, OPENS))
    assert queued.start.waiting and queued.sendable() == () and not queued.is_complete
    with pytest.raises(StartError):
        queued.start.mark_started(OPENS)  # a waiting run sends nothing

    released = queued.with_start(queued.start.release(OPENS))
    assert not released.start.waiting and len(released.sendable()) == 1
    with pytest.raises(StartError):
        released.start.release(OPENS)
    started = released.start.mark_started(OPENS)
    assert started.mark_started(OPENS + timedelta(minutes=1)).started_at == OPENS  # the first


def test_a_run_stops_once_and_a_stop_before_start_completes_it() -> None:
    run = RunExecution.plan(
        "run-1",
        "pf-1",
        "acct-1",
        [OrderIntent("001.sell.AAPL", "AAPL", OrderSide.SELL, qty=Decimal(1))],
    )
    stopped = run.with_start(run.start.stopped(StopOutcome.CANCELED, AT, "owner", "req-1"))
    assert stopped.is_complete and stopped.sendable() == ()
    assert stopped.start.stop_cause == "req-1"
    assert stopped.cancel(AT).run == stopped  # nothing left to cancel
    with pytest.raises(StartError, match="already stopped"):
        stopped.start.stopped(StopOutcome.REPLAN, AT, "")
    started = ExecutionStart(started_at=AT)
    with pytest.raises(StartError, match="started run"):
        started.stopped(StopOutcome.CANCELED, AT, "")
    mid_run = started.stopped(StopOutcome.CANCELED_MID_RUN, AT, "")
    assert not mid_run.stopped_before_start  # its orders still finish at the broker
    with pytest.raises(StartError):
        ExecutionStart(started_at=AT).queue(AT, OPENS)


def test_a_run_that_sent_nothing_queues_again_and_each_queuing_is_counted() -> None:
    run = RunExecution.plan(
        "run-1",
        "pf-1",
        "acct-1",
        [OrderIntent("001.sell.AAPL", "AAPL", OrderSide.SELL, qty=Decimal(1))],
    )
    at_close = run.start.queue(AT, OPENS)  # stored inside the window, unsent at the close
    assert at_close.waiting and at_close.requeued == 0
    with pytest.raises(StartError):
        at_close.queue(AT, OPENS)  # waiting already
    released = at_close.release(OPENS)
    tomorrow = OPENS + timedelta(days=1)
    again = released.queue(OPENS + timedelta(hours=7), tomorrow)  # released, still unsent
    assert again.waiting and again.released_at is None and again.requeued == 1
    assert again.starts_at == tomorrow
    unknown = again.release(tomorrow).queue(tomorrow, None)  # the calendar cannot say when
    assert unknown.waiting and unknown.starts_at is None and unknown.requeued == 2
    with pytest.raises(StartError):
        again.release(tomorrow).mark_started(tomorrow).queue(tomorrow, None)  # it sent


def test_price_moves_beyond_the_tolerance_either_way() -> None:
    expected = [
        ("AAPL", Decimal("200")),
        ("MSFT", Decimal("400")),
        ("VTI", Decimal("250")),
        ("BND", None),  # no expected price: not checked
        ("TLT", Decimal("90")),  # no last price: not checked
    ]
    last = {
        "AAPL": Decimal("204"),  # +2 %: exactly the tolerance, not beyond
        "MSFT": Decimal("391.96"),  # -2.01 %
        "VTI": Decimal("260"),  # +4 %
        "BND": Decimal("1"),
    }
    moves = price_moves(expected, last, Decimal("0.02"))
    assert [m.symbol for m in moves] == ["MSFT", "VTI"]
    assert moves[0].describe() == "MSFT moved -2.01% (400 -> 391.96)"
    assert replan_reason(moves, Decimal("0.02")).startswith("prices moved beyond 2% since the plan")
    assert price_moves(expected, last, Decimal("0.05")) == ()
    with pytest.raises(ValueError, match="tolerance"):
        price_moves(expected, last, Decimal("-0.01"))


def test_a_symbol_in_two_legs_is_named_once() -> None:
    moves = price_moves(
        [("AAPL", Decimal("100")), ("AAPL", Decimal("100"))], {"AAPL": Decimal("110")}
    )
    assert moves == (PriceMove("AAPL", Decimal("100"), Decimal("110")),)
    assert moves[0].move == Decimal("0.1")
