"""The wash-sale guard (domain/wash_sale.py): the 30-day window's edges, the memory of loss
sales, and the plan without the held-back buys (skipped with WASH_SALE, legs numbered again)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal as D

from hypothesis import given
from hypothesis import strategies as st

from rebal_optimizer.domain import Order, OrderPlan, Side
from rebal_optimizer.domain.wash_sale import (
    WASH_SALE,
    Fallback,
    held_back,
    in_window,
    remembered,
)

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


def test_a_held_back_buy_goes_to_the_models_fallback_with_the_same_money() -> None:
    fallbacks = {"B": Fallback("B2", D(3), whole=True), "C": Fallback("F", D(7), whole=False)}
    out = held_back(PLAN, {"B": SOLD, "C": SOLD}, SOLD, fallbacks)
    # B's 20.00 buys 6 whole B2 at 3 (18.00); C's 30.00 buys 4.285714285 F at 7 (29.99)
    assert [(o.leg, o.symbol, o.side, o.qty, o.notional) for o in out.orders] == [
        (1, "A", Side.SELL, D(1), D(10)),
        (2, "B2", Side.BUY, D(6), D(18)),
        (3, "F", Side.BUY, D("4.285714285"), D("29.99")),
    ]
    assert not out.skipped_orders
    assert [r.detail for r in out.reasons] == ["redirected: B -> B2, C -> F"]


def test_a_fallback_in_its_own_window_or_below_the_minimum_is_not_bought() -> None:
    fallbacks = {"B": Fallback("C", D(3), whole=True), "C": Fallback("D", D(40), whole=True)}
    out = held_back(PLAN, {"B": SOLD, "C": SOLD}, SOLD, fallbacks)
    assert {s.symbol for s in out.skipped_orders} == {"B", "C"}  # C is in a window; 30 < 1 D
    assert [r.detail for r in out.reasons] == ["held back: B, C"]
    fallbacks = {"B": Fallback("E", D(3), whole=False)}
    out = held_back(PLAN, {"B": SOLD}, SOLD, fallbacks, min_notional=D(25))
    assert [s.symbol for s in out.skipped_orders] == ["B"]


def test_a_redirect_joins_the_plans_buy_of_the_fallback() -> None:
    out = held_back(PLAN, {"B": SOLD}, SOLD, {"B": Fallback("C", D(30), whole=False)})
    (buy,) = [o for o in out.orders if o.side is Side.BUY]
    assert (buy.symbol, buy.qty, buy.notional) == ("C", D("1.666666666"), D("49.99"))
