"""RunExecution: sells before buys, applying reports, cancel-run."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from rebal_order_router.domain import (
    RUN_CANCELED,
    ApplyOutcome,
    BrokerCancel,
    CloseReason,
    OrderClosed,
    OrderEvent,
    OrderEventKind,
    OrderFilled,
    OrderIntent,
    OrderSide,
    OrderStatus,
    RunExecution,
    UnknownOrder,
    trade_date_of,
)

K = OrderEventKind
AT = datetime(2024, 7, 1, 14, 30, tzinfo=UTC)
SELL, BUY = OrderSide.SELL, OrderSide.BUY


def intents() -> list[OrderIntent]:
    # deliberately not in execution order
    return [
        OrderIntent("000.buy.VTI", "VTI", BUY, notional=Decimal("500.00")),
        OrderIntent("001.sell.TLT", "TLT", SELL, qty=Decimal(5)),
        OrderIntent("002.buy.AAPL", "AAPL", BUY, qty=Decimal(2)),
        OrderIntent("003.sell.BND", "BND", SELL, qty=Decimal("1.5")),
    ]


def planned() -> RunExecution:
    return RunExecution.plan("run1", "pf1", "acct-1", intents())


def coid(run: RunExecution, symbol: str) -> str:
    return next(o.client_order_id for o in run.orders if o.symbol == symbol)


def report(run: RunExecution, symbol: str, kind: OrderEventKind, **kw: object) -> RunExecution:
    broker_id = None if kind is K.ABANDONED else f"B-{symbol}"
    event = OrderEvent(kind, AT, broker_id, **kw)  # type: ignore[arg-type]
    update = run.apply(coid(run, symbol), event)
    assert update.outcome is ApplyOutcome.APPLIED, update.note
    return update.run


def symbols(orders: tuple[object, ...]) -> list[str]:
    return [o.symbol for o in orders]  # type: ignore[attr-defined]


def test_plan_orders_sells_first_then_buys_by_symbol() -> None:
    run = planned()
    assert [(o.side, o.symbol) for o in run.orders] == [
        (SELL, "BND"),
        (SELL, "TLT"),
        (BUY, "AAPL"),
        (BUY, "VTI"),
    ]
    assert all(o.status is OrderStatus.PENDING_SUBMIT for o in run.orders)
    assert coid(run, "TLT") == "rebal-run1-001.sell.TLT"
    assert RunExecution.plan("run1", "pf1", "acct-1", reversed(intents())) == run


def test_plan_refuses_duplicate_legs() -> None:
    twice = [*intents(), OrderIntent("001.sell.TLT", "TLT", SELL, qty=Decimal(1))]
    with pytest.raises(ValueError, match="unique"):
        RunExecution.plan("run1", "pf1", "acct-1", twice)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"qty": Decimal(1), "notional": Decimal(1)},
        {"qty": Decimal(0)},
        {"notional": Decimal("-5")},
    ],
)
def test_intent_needs_exactly_one_positive_size(kwargs: dict[str, Decimal]) -> None:
    with pytest.raises(ValueError, match="leg 0"):
        OrderIntent("0", "AAPL", BUY, **kwargs)


def test_only_sells_are_sendable_until_every_sell_is_final() -> None:
    run = planned()
    assert symbols(run.sendable()) == ["BND", "TLT"]

    run = report(run, "BND", K.ACCEPTED)
    assert symbols(run.sendable()) == ["TLT"]  # BND is at the broker, TLT still to send
    run = report(run, "TLT", K.ACCEPTED)
    assert run.sendable() == ()  # sells in flight: buys wait

    run = report(run, "BND", K.FILLED, filled_qty=Decimal("1.5"), filled_avg_price=Decimal(70))
    assert run.sendable() == ()  # TLT is still open
    run = report(run, "TLT", K.REJECTED)  # a failed sell still ends the sell phase
    assert run.sells_done
    assert symbols(run.sendable()) == ["AAPL", "VTI"]
    buys = {o.symbol: o for o in run.sendable()}
    assert buys["VTI"].notional == Decimal("500.00")  # planned size kept, not re-sized
    assert buys["AAPL"].qty == Decimal(2)


def test_buy_only_run_sends_buys_at_once() -> None:
    buys_only = [i for i in intents() if i.side is BUY]
    run = RunExecution.plan("run2", "pf1", "acct-1", buys_only)
    assert symbols(run.sendable()) == ["AAPL", "VTI"]


def test_apply_collects_facts_and_completes() -> None:
    run = planned()
    for symbol in ("BND", "TLT"):
        run = report(run, symbol, K.ACCEPTED)
    update = run.apply(
        coid(run, "TLT"),
        OrderEvent(K.FILLED, AT, "B-TLT", Decimal(5), Decimal("91.10")),
    )
    (fact,) = update.facts
    assert isinstance(fact, OrderFilled)
    assert (fact.run_id, fact.symbol, fact.side) == ("run1", "TLT", SELL)
    assert fact.trade_date == trade_date_of(AT) == date(2024, 7, 1)
    assert not update.run.is_complete

    run = update.run
    run = report(run, "BND", K.EXPIRED)
    run = report(run, "AAPL", K.REJECTED)
    run = report(run, "VTI", K.ACCEPTED)
    assert not run.is_complete
    run = report(run, "VTI", K.FILLED, filled_qty=Decimal("2.1"), filled_avg_price=Decimal(238))
    assert run.is_complete
    assert run.sendable() == ()


def test_no_op_reports_leave_the_run_untouched() -> None:
    run = report(planned(), "BND", K.ACCEPTED)
    update = run.apply(coid(run, "BND"), OrderEvent(K.ACCEPTED, AT, "B-BND"))
    assert update.outcome is ApplyOutcome.DUPLICATE
    assert update.run is run
    assert update.facts == ()


def test_unknown_client_order_id_raises() -> None:
    with pytest.raises(UnknownOrder):
        planned().apply("rebal-other-0", OrderEvent(K.ACCEPTED, AT, "B"))


def test_cancel_mid_sells() -> None:
    run = report(planned(), "BND", K.ACCEPTED)  # TLT not yet known to be at the broker
    later = AT + timedelta(minutes=5)

    cancellation = run.cancel(later)

    canceled = cancellation.run
    assert canceled.is_canceled
    assert canceled.canceled_at == later
    assert cancellation.broker_cancels == (BrokerCancel(coid(run, "BND"), "B-BND"),)
    assert cancellation.to_look_up == (coid(run, "TLT"),)  # may have been sent: look it up
    # buys were never sendable, so they close at once (never executed, published as canceled)
    closed = {f.symbol: f for f in cancellation.facts if isinstance(f, OrderClosed)}
    assert set(closed) == {"AAPL", "VTI"}
    assert all(f.reason is CloseReason.CANCELED for f in closed.values())
    assert all(f.detail == RUN_CANCELED and f.closed_at == later for f in closed.values())
    assert all(f.run_canceled for f in closed.values())  # the run's end is its stop, not these
    assert canceled.sendable() == ()

    # TLT turns out never to have reached the broker; BND's cancel is confirmed
    canceled = report(canceled, "TLT", K.ABANDONED, reason=RUN_CANCELED)
    canceled = report(canceled, "BND", K.CANCELED)
    assert canceled.is_complete
    assert {o.status for o in canceled.orders} == {
        OrderStatus.CANCELED,
        OrderStatus.NOT_EXECUTED,
    }
    assert all(o.closed_by_run_cancel for o in canceled.orders)


def test_cancel_is_idempotent() -> None:
    first = planned().cancel(AT)
    again = first.run.cancel(AT + timedelta(hours=1))
    assert again.run == first.run  # the first cancel time is kept
    assert again.facts == ()  # buys were already closed
    assert again.to_look_up == first.to_look_up


def test_cancel_after_sells_done_looks_up_the_buys() -> None:
    run = report(planned(), "BND", K.REJECTED)
    run = report(run, "TLT", K.REJECTED)
    run = report(run, "VTI", K.ACCEPTED)

    cancellation = run.cancel(AT)

    assert cancellation.facts == ()
    assert cancellation.to_look_up == (coid(run, "AAPL"),)  # may already be in flight
    assert cancellation.broker_cancels == (BrokerCancel(coid(run, "VTI"), "B-VTI"),)


def test_cancel_of_a_complete_run_changes_nothing() -> None:
    run = planned()
    for symbol in ("BND", "TLT", "AAPL", "VTI"):
        run = report(run, symbol, K.REJECTED)
    cancellation = run.cancel(AT)
    assert cancellation.run is run
    assert not run.is_canceled
    assert (cancellation.broker_cancels, cancellation.to_look_up, cancellation.facts) == (
        (),
        (),
        (),
    )


def test_cancel_needs_an_aware_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        planned().cancel(datetime(2024, 7, 1, 14, 30))


def test_empty_run_is_complete() -> None:
    run = RunExecution.plan("run3", "pf1", "acct-1", [])
    assert run.is_complete
    assert run.sendable() == ()
    assert replace(run, canceled_at=AT).is_canceled


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        (datetime(2024, 3, 8, 1, 30, tzinfo=UTC), date(2024, 3, 7)),  # EST, evening before
        (datetime(2024, 3, 11, 3, 59, tzinfo=UTC), date(2024, 3, 10)),  # EDT just began
        (datetime(2024, 3, 11, 4, 0, tzinfo=UTC), date(2024, 3, 11)),
        (datetime(2024, 11, 4, 4, 30, tzinfo=UTC), date(2024, 11, 3)),  # EST again (UTC-5)
    ],
)
def test_trade_date_is_the_new_york_date(instant: datetime, expected: date) -> None:
    assert trade_date_of(instant) == expected
