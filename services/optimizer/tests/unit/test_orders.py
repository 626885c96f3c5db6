from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from rebal_optimizer.domain import (
    OrderPlan,
    PortfolioSettings,
    Price,
    RunType,
    Side,
    TargetWeights,
    generate_orders,
)

NOW = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)  # the same instant the `quote` fixture uses
MAX_AGE = timedelta(minutes=15)


def plan_for(
    run_type: str,
    holdings: dict[str, str],
    cash: str,
    targets: dict[str, str],
    prices: dict[str, Price],
    *,
    cash_target: str = "0",
    amount: str | None = None,
    reserved: str = "0",
    **settings: object,
) -> OrderPlan:
    return generate_orders(
        RunType(run_type),
        {s: D(q) for s, q in holdings.items()},
        D(cash),
        TargetWeights({s: D(p) for s, p in targets.items()}, D(cash_target)),
        prices,
        PortfolioSettings(**settings),  # type: ignore[arg-type]
        NOW,
        MAX_AGE,
        None if amount is None else D(amount),
        reserved_cash=D(reserved),
    )


def summary(plan: OrderPlan) -> list[tuple[int, str, str, D, D]]:
    return [(o.leg, o.side.value, o.symbol, o.qty, o.notional) for o in plan.orders]


def test_buys_to_target_with_fractional_shares(quote) -> None:
    plan = plan_for(
        "full_rebalance",
        {"A": "10"},
        "100",
        {"A": "50", "B": "50"},
        {"A": quote("10"), "B": quote("20")},
    )
    assert summary(plan) == [(1, "buy", "B", D(5), D(100))]
    assert plan.is_recommended and plan.reasons == ()


def test_sells_come_before_buys_with_lower_legs(quote) -> None:
    plan = plan_for(
        "full_rebalance",
        {"A": "20", "Z": "1"},
        "0",
        {"A": "40", "B": "30", "Z": "30"},
        {"A": quote("10"), "B": quote("5"), "Z": quote("90")},
    )
    sides = [o.side for o in plan.orders]
    assert sides == sorted(sides, key=lambda s: s is Side.BUY)
    assert [o.leg for o in plan.orders] == list(range(1, len(plan.orders) + 1))
    assert summary(plan)[0][:3] == (1, "sell", "A")


def test_symbol_outside_targets_is_sold_in_full(quote) -> None:
    plan = plan_for(
        "full_rebalance", {"X": "3.5"}, "0", {"A": "100"}, {"A": quote("7"), "X": quote("10")}
    )
    assert summary(plan) == [(1, "sell", "X", D("3.5"), D(35)), (2, "buy", "A", D(5), D(35))]


def test_order_below_min_notional_is_skipped_in_alpaca_shape(quote) -> None:
    plan = plan_for(
        "full_rebalance",
        {"A": "10.05", "B": "4.975"},
        "0",
        {"A": "50", "B": "50"},
        {"A": quote("10"), "B": quote("20")},
    )
    assert plan.orders == ()
    (skipped,) = plan.skipped_orders
    assert (skipped.symbol, skipped.side, skipped.notional) == ("A", Side.SELL, D("0.50"))
    assert (skipped.reason, skipped.currency) == ("ORDER_LESS_THAN_MIN_NOTIONAL", "USD")
    assert "1.00" in skipped.reason_details
    assert not plan.is_recommended
    assert [r.code for r in plan.reasons] == ["NOTHING_TO_TRADE"]


def test_skipped_sell_proceeds_are_not_spent(quote) -> None:
    # Selling A would raise 0.50 (skipped): B may only get the cash that exists.
    plan = plan_for(
        "full_rebalance",
        {"A": "5.1"},
        "4.90",
        {"A": "50", "B": "50"},
        {"A": quote("1"), "B": quote("1")},
    )
    buys = [o for o in plan.orders if o.side is Side.BUY]
    assert sum(o.qty for o in buys) <= D("4.90")
    assert [s.symbol for s in plan.skipped_orders] == ["A"]


def test_whole_shares_floor_then_leftover_to_most_underweight(quote) -> None:
    plan = plan_for(
        "full_rebalance",
        {},
        "1000",
        {"A": "50", "B": "50"},
        {"A": quote("30"), "B": quote("70")},
        fractional_trading=False,
    )
    # floors: A 16 (480), B 7 (490); 30 left → one more A (deficit 20 > half a share)
    assert summary(plan) == [(1, "buy", "A", D(17), D(510)), (2, "buy", "B", D(7), D(490))]
    assert all(o.qty == o.qty.to_integral_value() for o in plan.orders)


def test_whole_shares_do_not_buy_a_share_that_overshoots_more_than_it_closes(quote) -> None:
    plan = plan_for(
        "full_rebalance",
        {},
        "1000",
        {"A": "2", "B": "54", "C": "44"},
        {"A": quote("60"), "B": quote("100"), "C": quote("100")},
        fractional_trading=False,
    )
    # floors leave 100 over; A is 20 short but a 60 share would overshoot by 40; B and C are
    # each 40 short of a 100 share: no purchase lands closer to target than staying short
    assert {o.symbol: o.qty for o in plan.orders} == {"B": D(5), "C": D(4)}


def test_whole_share_leftover_prefers_the_most_underweight(quote) -> None:
    plan = plan_for(
        "full_rebalance",
        {},
        "100",
        {"A": "50", "B": "50"},
        {"A": quote("30"), "B": quote("60")},
        fractional_trading=False,
    )
    # floors: A 1 (20 short), B 0 (50 short) → B is most underweight and gets the share
    assert {o.symbol: o.qty for o in plan.orders} == {"A": D(1), "B": D(1)}
    assert sum(o.qty * o.expected_price for o in plan.orders) <= D(100)


def test_non_fractionable_asset_trades_whole_shares_only(quote) -> None:
    plan = plan_for(
        "full_rebalance",
        {"A": "20"},
        "10",
        {"A": "50", "B": "50"},
        {"A": quote("35", fractionable=False), "B": quote("10")},
    )
    # total 710, A target 355: excess 345 = 9.857 shares → sells 9 (safe direction)
    assert summary(plan) == [(1, "sell", "A", D(9), D(315)), (2, "buy", "B", D("32.5"), D(325))]


def test_quantities_have_at_most_nine_decimals_and_notional_cents(quote) -> None:
    plan = plan_for("full_rebalance", {}, "100", {"A": "100"}, {"A": quote("3")})
    (order,) = plan.orders
    assert order.qty == D("33.333333333")
    assert order.notional == D("99.99")  # rounded down, never up
    assert order.qty * order.expected_price <= D(100)


@pytest.mark.parametrize(
    ("prices", "code", "symbol"),
    [
        ({"A": "10"}, "PRICE_MISSING", "B"),
        ({"A": "10", "B": "stale"}, "PRICE_STALE", "B"),
        ({"A": "10", "B": "0"}, "PRICE_INVALID", "B"),
    ],
)
def test_unusable_price_fails_the_plan_without_raising(
    quote, prices: dict[str, str], code: str, symbol: str
) -> None:
    quotes = {
        s: quote("5", age=MAX_AGE + timedelta(seconds=1)) if p == "stale" else quote(p)
        for s, p in prices.items()
    }
    plan = plan_for("full_rebalance", {"A": "1"}, "100", {"A": "50", "B": "50"}, quotes)
    assert plan.orders == () and plan.failed and not plan.is_recommended
    assert [(r.code, r.symbol) for r in plan.reasons] == [(code, symbol)]


def test_price_exactly_at_max_age_is_still_fresh(quote) -> None:
    plan = plan_for("full_rebalance", {}, "100", {"A": "100"}, {"A": quote("10", age=MAX_AGE)})
    assert plan.is_recommended


def test_non_tradable_target_is_reported_for_needs_adjustment(quote) -> None:
    plan = plan_for(
        "full_rebalance",
        {"X": "1"},
        "100",
        {"A": "50", "B": "50"},
        {"A": quote("10", tradable=False), "B": quote("10"), "X": quote("10", tradable=False)},
    )
    assert {(r.code, r.symbol) for r in plan.reasons} == {
        ("ASSET_NOT_TRADABLE", "A"),
        ("ASSET_NOT_TRADABLE", "X"),
    }
    assert plan.non_tradable_targets == ("A",)  # X is held, not part of the model
    assert plan.failed


def test_invest_cash_buys_only_and_leaves_overweights_alone(quote) -> None:
    plan = plan_for(
        "invest_cash",
        {"A": "15"},
        "50",
        {"A": "50", "B": "50"},
        {"A": quote("10"), "B": quote("10")},
    )
    assert summary(plan) == [(1, "buy", "B", D(5), D(50))]


def test_invest_cash_amount_goes_to_most_underweight_first(quote) -> None:
    # total 1000: A 300 (target 400), B 380 (target 400), cash 320 (target 200)
    plan = plan_for(
        "invest_cash",
        {"A": "300", "B": "380"},
        "320",
        {"A": "40", "B": "40"},
        {"A": quote("1"), "B": quote("1")},
        cash_target="20",
        amount="60",
    )
    assert summary(plan) == [(1, "buy", "A", D(60), D(60))]


def test_invest_cash_keeps_cash_target_and_buffer(quote) -> None:
    plan = plan_for(
        "invest_cash", {}, "1000", {"A": "100"}, {"A": quote("1")}, cash_buffer_percent=D(1)
    )
    assert summary(plan) == [(1, "buy", "A", D(990), D(990))]


def test_reserved_cash_is_not_invested(quote) -> None:
    plan = plan_for("full_rebalance", {}, "100", {"A": "100"}, {"A": quote("10")}, reserved="40")
    assert summary(plan) == [(1, "buy", "A", D(6), D(60))]


def test_withdrawal_sells_overweight_first(quote) -> None:
    plan = plan_for(
        "withdrawal",
        {"A": "60", "B": "40"},
        "0",
        {"A": "50", "B": "50"},
        {"A": quote("1"), "B": quote("1")},
        amount="10",
    )
    assert summary(plan) == [(1, "sell", "A", D(10), D(10))]
    assert plan.shortfall == 0


def test_withdrawal_beyond_overweights_sells_proportionally(quote) -> None:
    plan = plan_for(
        "withdrawal",
        {"A": "60", "B": "40"},
        "0",
        {"A": "50", "B": "50"},
        {"A": quote("1"), "B": quote("1")},
        amount="30",
    )
    sold = {o.symbol: o.notional for o in plan.orders}
    assert sold == {"A": D("21.12"), "B": D("8.89")}  # 10 overweight + 20 split 50:40
    assert all(o.side is Side.SELL for o in plan.orders)


def test_withdrawal_counts_cash_on_hand(quote) -> None:
    plan = plan_for("withdrawal", {"A": "60"}, "50", {"A": "100"}, {"A": quote("1")}, amount="20")
    assert plan.orders == () and plan.shortfall == 0


def test_withdrawal_reports_shortfall(quote) -> None:
    plan = plan_for("withdrawal", {"A": "5"}, "2", {"A": "100"}, {"A": quote("1")}, amount="10")
    assert summary(plan) == [(1, "sell", "A", D(5), D(5))]
    assert plan.shortfall == D(3)
    assert [r.code for r in plan.reasons] == ["WITHDRAWAL_SHORTFALL"]
    assert plan.is_recommended  # selling what exists is still worth doing


def test_withdrawal_tops_up_instead_of_skipping_small_slices(quote) -> None:
    # 1.50 split 50:50 would be two 0.75 orders under the 1.00 minimum
    plan = plan_for(
        "withdrawal",
        {"A": "50", "B": "50"},
        "0",
        {"A": "50", "B": "50"},
        {"A": quote("1"), "B": quote("1")},
        amount="1.50",
    )
    assert sum(o.notional for o in plan.orders) >= D("1.50")
    assert plan.skipped_orders == ()


def test_whole_share_withdrawal_rounds_up_within_holding(quote) -> None:
    plan = plan_for(
        "withdrawal",
        {"A": "10"},
        "0",
        {"A": "100"},
        {"A": quote("30")},
        amount="100",
        fractional_trading=False,
    )
    assert summary(plan) == [(1, "sell", "A", D(4), D(120))]


def test_empty_portfolio_has_nothing_to_trade(quote) -> None:
    plan = plan_for("full_rebalance", {}, "0", {"A": "100"}, {"A": quote("1")})
    assert [r.code for r in plan.reasons] == ["NO_PORTFOLIO_VALUE"]
    assert not plan.is_recommended
