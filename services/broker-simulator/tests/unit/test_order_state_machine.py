"""Order transitions: the table allows only Alpaca's legal moves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rebal_broker_sim.domain.orders import (
    OPEN_STATUSES,
    IllegalTransition,
    Order,
    OrderCanceled,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderPartiallyFilled,
    OrderRejected,
    OrderRequest,
    OrderStatus,
    Side,
    apply,
    new_order,
    rejected_order,
)

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def fresh() -> Order:
    order, _ = new_order(
        OrderRequest("acct", "c-1", "MSFT", Side.BUY, qty=Decimal(10)), "o1", T0, Decimal(1), T0
    )
    return order


def test_a_new_order_is_open_and_unfilled() -> None:
    order = fresh()
    assert order.status is OrderStatus.NEW
    assert order.filled_qty == 0
    assert order.filled_avg_price is None


def test_two_partial_fills_average_their_prices() -> None:
    order = apply(fresh(), OrderPartiallyFilled(T0, Decimal(2), Decimal(100)))
    order = apply(order, OrderFilled(T0 + timedelta(seconds=1), Decimal(6), Decimal(104)))
    assert order.status is OrderStatus.FILLED
    assert order.filled_qty == Decimal(8)
    assert order.filled_avg_price == Decimal(103)
    assert order.filled_at == T0 + timedelta(seconds=1)


def test_expiry_keeps_the_partial_fill() -> None:
    partial = apply(fresh(), OrderPartiallyFilled(T0, Decimal(5), Decimal(10)))
    expired = apply(partial, OrderExpired(T0 + timedelta(hours=1)))
    assert expired.status is OrderStatus.EXPIRED
    assert expired.filled_qty == Decimal(5)
    assert expired.expired_at == T0 + timedelta(hours=1)
    assert expired.fill_due_at is None


def test_a_rejected_order_carries_its_reason() -> None:
    order, event = rejected_order(
        OrderRequest("acct", "c-2", "XYZ", Side.SELL, notional=Decimal(5)), "o2", T0, "no price"
    )
    assert order.status is OrderStatus.REJECTED
    assert order.reject_reason == "no price"
    assert order.failed_at == T0
    assert event.reason == "no price"


@pytest.mark.parametrize(
    "closing", [OrderFilled(T0, Decimal(10), Decimal(1)), OrderCanceled(T0), OrderExpired(T0)]
)
def test_a_closed_order_cannot_be_canceled(closing: OrderEvent) -> None:
    closed = apply(fresh(), closing)
    with pytest.raises(IllegalTransition):
        apply(closed, OrderCanceled(T0))


def test_an_execution_must_have_a_positive_qty() -> None:
    with pytest.raises(ValueError, match="positive"):
        apply(fresh(), OrderPartiallyFilled(T0, Decimal(0), Decimal(1)))


_events = st.sampled_from(
    [
        OrderPartiallyFilled(T0, Decimal(1), Decimal(10)),
        OrderFilled(T0, Decimal(1), Decimal(10)),
        OrderCanceled(T0),
        OrderExpired(T0),
        OrderRejected(T0, "nope"),
    ]
)


@settings(max_examples=200)
@given(st.lists(_events, max_size=8))
def test_once_closed_an_order_never_changes(events: list[OrderEvent]) -> None:
    order = fresh()
    for event in events:
        try:
            after = apply(order, event)
        except IllegalTransition:
            after = order
        if not order.is_open:
            assert after == order  # terminal statuses refuse every event
        assert after.filled_qty >= order.filled_qty  # fills only accumulate
        order = after
    assert (order.status in OPEN_STATUSES) == order.is_open
