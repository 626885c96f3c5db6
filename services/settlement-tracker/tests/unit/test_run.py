"""The Run aggregate: plan, fills, closes, settlement, completion at execution, cancel."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from rebal_settlement_tracker.domain import (
    CloseReason,
    DuplicateClose,
    DuplicateFill,
    DuplicatePlan,
    IllegalTransition,
    OrderStatus,
    PlannedOrder,
    RejectCode,
    Run,
    RunAlreadyCompleted,
    RunStatus,
    SettlementCycles,
    Side,
    SkippedOrder,
    TransactionStatus,
    UnknownLeg,
    settle_due,
    settlement_dates,
)

from .run_builders import (
    BUY_MSFT,
    CALENDAR,
    FRIDAY,
    MONDAY,
    SELL_AAPL,
    T1,
    TERMS,
    at,
    complete,
    fill,
    planned_run,
    settle,
)

SKIPPED = SkippedOrder("TSLA", Side.BUY, Decimal("0.40"))


def test_everything_executed_as_planned_is_success_before_it_settles() -> None:
    run = fill(planned_run(), 0, "10", "190.00", 1)
    assert run.completion() is None  # leg 1 still open
    run = fill(run, 1, "5", "410.10", 2)
    completion = run.completion()  # every order final: complete now, settle later
    assert completion is not None
    assert completion.status is RunStatus.COMPLETED_SUCCESS
    assert completion.reason is None
    assert completion.cash_delta == Decimal("1900.00") - Decimal("2050.50")
    assert dict(completion.holdings_delta) == {"AAPL": Decimal(-10), "MSFT": Decimal(5)}
    assert completion.last_execution_at == at(2)
    assert [o.status for o in completion.orders] == [TransactionStatus.EXECUTED] * 2
    assert [o.order_status for o in completion.orders] == [OrderStatus.FILLED] * 2
    assert [o.filled_at for o in completion.orders] == [at(1), at(2)]
    assert completion.executed == completion.orders and completion.failed == ()
    report = settle(run).report()
    assert [o.status for o in report.orders] == [TransactionStatus.SETTLED] * 2
    assert [o.settled_on for o in report.orders] == [MONDAY, MONDAY]
    assert all(tx.is_final for tx in settle(run).transactions.values())


def test_partial_fill_then_expiry_is_completed_adjusted() -> None:
    run = fill(planned_run(), 0, "10", "190.00", 1)
    run = fill(run, 1, "2", "410.00", 2)
    assert run.completion() is None  # the partial order is still open
    run = run.record_close(1, CloseReason.EXPIRED, Decimal(2), at(400))
    completion = run.completion()
    assert completion is not None
    assert completion.status is RunStatus.COMPLETED_ADJUSTED
    assert completion.reason == "1 order(s) partially executed"
    msft = completion.orders[1]
    assert (msft.planned_qty, msft.filled_qty, msft.avg_price) == (
        Decimal(5),
        Decimal(2),
        Decimal("410.00"),
    )
    assert (msft.status, msft.order_status, msft.reason) == (
        TransactionStatus.EXPIRED,
        OrderStatus.EXPIRED,
        "expired",
    )
    assert (msft.filled_at, msft.closed_at, msft.updated_at) == (None, at(400), at(400))
    assert completion.executed == completion.orders  # both filled something
    assert completion.cash_delta == Decimal("1080.00")
    assert dict(completion.holdings_delta) == {"AAPL": Decimal(-10), "MSFT": Decimal(2)}
    run, settled = settle_due(run, MONDAY, CALENDAR, T1)
    assert [(tx.leg, tx.status) for tx in settled] == [
        (0, TransactionStatus.SETTLED),
        (1, TransactionStatus.EXPIRED),
    ]
    assert run.transactions[1].settled_on == MONDAY and run.transactions[1].is_final


def test_skipped_order_makes_an_otherwise_full_run_adjusted() -> None:
    run = settle(fill(planned_run(SELL_AAPL, skipped=(SKIPPED,)), 0, "10", "190", 1))
    completion = run.completion()
    assert completion is not None
    assert completion.status is RunStatus.COMPLETED_ADJUSTED
    assert completion.skipped_orders == (SKIPPED,)


def test_plan_with_only_skipped_orders_completes_at_once() -> None:
    completion = Run("O1", "pf-1").plan([], [SKIPPED], TERMS).completion()
    assert completion is not None
    assert completion.status is RunStatus.COMPLETED_ADJUSTED
    assert completion.reason == "1 order(s) skipped"
    assert completion.cash_delta == Decimal("0.00")
    assert not completion.holdings_delta


def test_nothing_executed_is_error() -> None:
    run = planned_run().record_close(0, CloseReason.REJECTED, Decimal(0), at(1))
    assert run.completion() is None
    run = run.record_close(1, CloseReason.EXPIRED, Decimal(0), at(2))
    completion = run.completion()
    assert completion is not None
    assert completion.status is RunStatus.ERROR
    assert completion.executed == () and completion.failed == completion.orders
    assert [o.order_status for o in completion.orders] == [
        OrderStatus.REJECTED,
        OrderStatus.EXPIRED,
    ]
    assert [o.reason for o in completion.orders] == ["rejected", "expired"]
    assert [o.status for o in completion.orders] == [
        TransactionStatus.NOT_EXECUTED,
        TransactionStatus.EXPIRED,
    ]
    assert completion.last_execution_at is None


def test_completion_is_produced_exactly_once() -> None:
    run = fill(fill(planned_run(), 0, "10", "190", 1), 1, "5", "410", 2)
    run, first = complete(run)
    assert first is not None
    assert run.is_completed
    assert run.status is RunStatus.COMPLETED_SUCCESS
    again, second = complete(run)
    assert second is None
    assert again.lifecycle == run.lifecycle
    assert run.completion() is None


def test_settlement_after_completion_does_not_complete_again() -> None:
    run = fill(planned_run(), 0, "10", "190", 1)
    run = fill(run, 1, "3", "410", 2).record_close(1, CloseReason.CANCELED, Decimal(3), at(5))
    run, completion = complete(run)
    assert completion is not None
    assert [o.status for o in completion.orders] == [
        TransactionStatus.EXECUTED,
        TransactionStatus.CANCELLED,
    ]
    assert [o.settled_on for o in completion.orders] == [None, None]
    assert not any(tx.is_final for tx in run.transactions.values())  # executed, not settled
    # Settlement still happens afterwards (transaction.settled), without a second completion.
    run, settled = settle_due(run, MONDAY, CALENDAR, T1)
    assert [tx.leg for tx in settled] == [0, 1]
    assert complete(run)[1] is None
    assert all(tx.is_final for tx in run.transactions.values())


def test_open_partial_fill_is_not_final() -> None:
    run = fill(fill(planned_run(), 0, "10", "190", 1), 1, "3", "410", 2)
    assert run.completion() is None
    assert settle_due(run, date(2026, 12, 31), CALENDAR, T1)[1][0].leg == 0
    assert 1 not in settlement_dates(run, CALENDAR, T1)


def test_settles_only_when_the_settlement_date_is_reached() -> None:
    run = fill(planned_run(SELL_AAPL), 0, "10", "190", 1)
    assert settlement_dates(run, CALENDAR, T1) == {0: MONDAY}
    assert settle_due(run, FRIDAY, CALENDAR, T1) == (run, [])
    assert settle_due(run, date(2026, 11, 22), CALENDAR, T1)[1] == []  # Sunday
    assert settle_due(run, MONDAY, CALENDAR, T1)[1][0].settled_on == MONDAY


def test_settlement_cycle_per_asset_class_and_t0() -> None:
    fund = PlannedOrder(1, "MMF", Side.BUY, qty=Decimal(1), asset_class="mmf")
    run = fill(planned_run(SELL_AAPL, fund), 1, "1", "100", 1)
    run = fill(run, 0, "10", "190", 1)
    cycles = SettlementCycles({"us_equity": 1, "mmf": 0})
    run, settled = settle_due(run, FRIDAY, CALENDAR, cycles)
    assert [(tx.symbol, tx.settled_on) for tx in settled] == [("MMF", FRIDAY)]
    run, settled = settle_due(run, MONDAY, CALENDAR, cycles)
    assert [(tx.symbol, tx.settled_on) for tx in settled] == [("AAPL", MONDAY)]


def test_fills_before_the_plan_are_kept_and_applied() -> None:
    early = Run("O1", "pf-1").record_fill(1, Decimal(5), Decimal(410), FRIDAY, at(1))
    early = early.record_close(0, CloseReason.EXPIRED, Decimal(0), at(2))
    assert early.transactions == {}
    assert early.lifecycle.status is None  # not created before its plan
    run = early.plan([SELL_AAPL, BUY_MSFT])
    assert run.started
    assert run.transactions[1].status is TransactionStatus.EXECUTED
    assert run.transactions[0].status is TransactionStatus.EXPIRED
    assert run.completion() is not None


def test_fill_for_leg_outside_the_plan() -> None:
    early = Run("O1", "pf-1").record_fill(7, Decimal(1), Decimal(1), FRIDAY, at(1))
    [rejection] = early.plan([SELL_AAPL]).rejections
    assert (rejection.leg, rejection.code) == (7, RejectCode.UNKNOWN_LEG)
    with pytest.raises(UnknownLeg):
        planned_run().record_fill(7, Decimal(1), Decimal(1), FRIDAY, at(1))


def test_duplicate_and_stale_events_are_no_ops() -> None:
    run = fill(planned_run(), 0, "4", "190", 1)
    with pytest.raises(DuplicateFill):
        fill(run, 0, "4", "190", 1)
    with pytest.raises(DuplicateFill):
        fill(fill(run, 0, "6", "191", 2), 0, "4", "190", 1)
    closed = run.record_close(0, CloseReason.EXPIRED, Decimal(4), at(9))
    with pytest.raises(DuplicateClose):
        closed.record_close(0, CloseReason.EXPIRED, Decimal(4), at(9))
    with pytest.raises(DuplicatePlan):  # the same plan, whenever it was sent
        run.plan([SELL_AAPL, BUY_MSFT], (), TERMS, created_at=at(60))
    with pytest.raises(IllegalTransition):
        run.plan([SELL_AAPL], (), TERMS)


def test_close_before_its_fill_completes_when_the_fill_arrives() -> None:
    run = planned_run(BUY_MSFT).record_close(1, CloseReason.CANCELED, Decimal(2), at(9))
    assert settle(run).completion() is None  # 2 executed, at a price not known yet
    run = fill(run, 1, "2", "410", 1)
    completion = run.completion()
    assert completion is not None
    assert completion.orders[0].filled_qty == Decimal(2)
    assert completion.orders[0].order_status is OrderStatus.CANCELED


def test_notional_leg_needs_the_fully_filled_flag() -> None:
    notional = PlannedOrder(0, "AAPL", Side.BUY, notional=Decimal(1000))
    run = fill(planned_run(notional), 0, "5.2", "190", 1)
    assert run.completion() is None
    run = fill(run, 0, "5.2", "190", 1, fully_filled=True)
    completion = run.completion()
    assert completion is not None
    assert completion.status is RunStatus.COMPLETED_SUCCESS
    assert completion.cash_delta == Decimal("-988.00")


def test_cash_delta_rounds_each_leg_half_up_to_cents() -> None:
    run = fill(planned_run(PlannedOrder(0, "X", Side.SELL, qty=Decimal(3))), 0, "3", "33.335")
    completion = run.completion()
    assert completion is not None
    assert completion.cash_delta == Decimal("100.01")
    run = fill(planned_run(PlannedOrder(0, "X", Side.BUY, qty=Decimal(3))), 0, "3", "33.335")
    completion = run.completion()
    assert completion is not None
    assert completion.cash_delta == Decimal("-100.01")


def test_late_fact_after_completion_is_refused_unless_stale() -> None:
    run = fill(planned_run(BUY_MSFT), 1, "2", "410", 1)
    run = run.record_close(1, CloseReason.EXPIRED, Decimal(2), at(9))
    run, completion = complete(run)
    assert completion is not None
    with pytest.raises(DuplicateFill):
        fill(run, 1, "1", "410", 0)
    with pytest.raises(RunAlreadyCompleted):
        fill(run, 1, "3", "410", 5)


def test_fact_changing_a_settled_leg_is_illegal() -> None:
    run = fill(planned_run(), 1, "2", "410", 1)
    run = settle(run.record_close(1, CloseReason.EXPIRED, Decimal(2), at(9)))
    assert run.transactions[1].settled_on == MONDAY
    with pytest.raises(IllegalTransition):
        fill(run, 1, "3", "410", 5)
