"""The wash-sale guard (domain/wash_sale.py): the 30-day window's edges, the memory of loss
sales, and the plan without the held-back buys (skipped with WASH_SALE, legs numbered again)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal as D

from hypothesis import given
from hypothesis import strategies as st

from rebal_optimizer.domain import Order, OrderPlan, Side
from rebal_optimizer.domain.wash_sale import WASH_SALE, held_back, in_window, remembered

SOLD = date(2026, 5, 1)


def test_the_window_is_the_sale_day_through_day_30_after_it() -> None:
    assert in_window(SOLD, SOLD)
    assert in_window(SOLD, SOLD + timedelta(days=30))
    assert not in_window(SOLD, SOLD + timedelta(days=31))
    assert not in_window(SOLD, SOLD - timedelta(days=1))


@given(st.integers(-400, 400))
def test_a_buy_is_in_the_window_exactly_0_to_30_days_after(days: int) -> None:
    assert in_window(SOLD, SOLD + timedelta(days=days)) == (0 <= days <= 30)


def test_the_memory_keeps_the_last_loss_sale_and_forgets_after_the_window() -> None:
    memory = remembered({}, ["A"], SOLD)
    memory = remembered(memory, ["B"], SOLD + timedelta(days=10))
    assert memory == {"A": SOLD, "B": SOLD + timedelta(days=10)}
    later = remembered(memory, ["B"], SOLD + timedelta(days=31))
    assert later == {"B": SOLD + timedelta(days=31)}  # A's window is over


PLAN = OrderPlan(
    (
        Order(1, "A", Side.SELL, D(1), D(10), D(10)),
        Order(2, "B", Side.BUY, D(1), D(20), D(20)),
        Order(3, "C", Side.BUY, D(1), D(30), D(30)),
    )
)


def test_a_buy_on_day_30_is_held_back_and_on_day_31_it_goes() -> None:
    held = held_back(PLAN, {"B": SOLD}, SOLD + timedelta(days=30))
    assert [(o.leg, o.symbol) for o in held.orders] == [(1, "A"), (2, "C")]
    (skipped,) = held.skipped_orders
    assert (skipped.symbol, skipped.side, skipped.notional) == ("B", Side.BUY, D(20))
    assert skipped.reason == WASH_SALE and "2026-06-01" in skipped.reason_details
    assert [r.code for r in held.reasons] == [WASH_SALE]
    assert held_back(PLAN, {"B": SOLD}, SOLD + timedelta(days=31)) == PLAN


def test_a_sale_of_the_symbol_is_never_held_back() -> None:
    assert held_back(PLAN, {"A": SOLD}, SOLD) == PLAN


def test_a_plan_left_without_orders_is_not_recommended() -> None:
    only_buy = OrderPlan((Order(1, "B", Side.BUY, D(1), D(20), D(20)),))
    held = held_back(only_buy, {"B": SOLD}, SOLD)
    assert not held.orders and not held.is_recommended
