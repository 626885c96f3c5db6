"""Band-edge rebalancing (`rebalance_to: band_edge`): examples, then properties (hypothesis):
no position's drift grows, a breaching position lands strictly inside its band when the
portfolio can fund it, and buys never spend more than the cash the rules allow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rebal_optimizer.domain import (
    ConditionSubType,
    ConditionType,
    InvalidSettings,
    OrderPlan,
    PortfolioSettings,
    Price,
    RebalanceCondition,
    RebalanceTo,
    RunType,
    Side,
    TargetWeights,
    compute_drifts,
    generate_orders,
)
from rebal_optimizer.domain.band_edge import band_edge_trades, band_width

NOW = datetime(2026, 3, 4, 15, tzinfo=UTC)
MAX_AGE = timedelta(minutes=15)
ABS5 = RebalanceCondition(ConditionType.DRIFT_BAND, ConditionSubType.ABSOLUTE, D(5))
REL20 = RebalanceCondition(ConditionType.DRIFT_BAND, ConditionSubType.RELATIVE, D(20))
EDGE = PortfolioSettings(rebalance_to=RebalanceTo.BAND_EDGE)


def price(value: str) -> Price:
    return Price(D(value), True, True, NOW)


def plan(
    holdings: dict[str, str],
    cash: str,
    targets: dict[str, str],
    *,
    cash_target: str = "0",
    bands: tuple[RebalanceCondition, ...] = (ABS5,),
    to: PortfolioSettings = EDGE,
) -> OrderPlan:
    return generate_orders(
        RunType.FULL_REBALANCE,
        {s: D(q) for s, q in holdings.items()},
        D(cash),
        TargetWeights({s: D(p) for s, p in targets.items()}, D(cash_target)),
        {s: price("1") for s in {*holdings, *targets}},
        to,
        NOW,
        MAX_AGE,
        bands=bands,
    )


def trades(result: OrderPlan) -> dict[tuple[str, str], D]:
    return {(o.side.value, o.symbol): o.notional for o in result.orders}


def test_breaching_pair_trades_to_just_inside_the_band_not_to_target() -> None:
    # A drifted to 66 % (target 60, band 5): to target would trade 6 points; the edge with a
    # 20 % margin (1 point) trades 2.
    result = plan({"A": "6600", "B": "3400"}, "0", {"A": "60", "B": "40"})
    assert trades(result) == {("sell", "A"): D("200.00"), ("buy", "B"): D("200.00")}
    assert [r.code for r in result.reasons] == ["BAND_EDGE"]
    assert "A, B" in (result.reasons[0].detail or "")
    alpaca = plan({"A": "6600", "B": "3400"}, "0", {"A": "60", "B": "40"}, to=PortfolioSettings())
    assert trades(alpaca) == {("sell", "A"): D("600.00"), ("buy", "B"): D("600.00")}


def test_positions_inside_their_band_are_left_alone() -> None:
    # A breaches (+7); B (-3) and C (-4) are inside theirs: A's proceeds buy B and C toward
    # target, largest gap first, and nothing else is sold.
    result = plan({"A": "4700", "B": "2700", "C": "2600"}, "0", {"A": "40", "B": "30", "C": "30"})
    sold = {k: v for k, v in trades(result).items() if k[0] == "sell"}
    assert sold == {("sell", "A"): D("300.00")}
    assert sum(trades(result).values()) == D("600.00")


def test_a_deposit_is_invested_first_and_sells_only_what_it_cannot_cover() -> None:
    # Cash 20 % over a 0 % target: the flow alone brings every underweight back, no sell.
    result = plan({"A": "5000", "B": "3000"}, "2000", {"A": "60", "B": "40"})
    assert all(o.side is Side.BUY for o in result.orders)
    assert sum(o.notional for o in result.orders) == D("2000.00")


def test_an_underweight_breach_is_funded_from_positions_over_target_inside_their_band() -> None:
    # B is 6 points under; A and C are over target but inside their bands, no cash: the buy of
    # B is funded by selling A and C toward (never below) their targets.
    result = plan({"A": "6400", "B": "2400", "C": "1200"}, "0", {"A": "60", "B": "30", "C": "10"})
    bought = trades(result)[("buy", "B")]
    assert bought == D("200.00")  # to 30 - 5 + 1 = 26 %
    sold = sum(v for (side, _), v in trades(result).items() if side == "sell")
    assert sold == bought


def test_a_symbol_outside_the_targets_that_breaches_is_sold_in_full() -> None:
    result = plan({"A": "9000", "X": "1000"}, "0", {"A": "100"})
    assert trades(result) == {("sell", "X"): D("1000.00"), ("buy", "A"): D("1000.00")}


def test_without_drift_bands_a_band_edge_portfolio_rebalances_to_target() -> None:
    result = plan({"A": "6600", "B": "3400"}, "0", {"A": "60", "B": "40"}, bands=())
    assert trades(result) == {("sell", "A"): D("600.00"), ("buy", "B"): D("600.00")}


def test_the_tightest_band_sets_the_width() -> None:
    assert band_width(D(60), (ABS5, REL20)) == D(5)  # 20 % of 60 = 12 points: 5 is tighter
    assert band_width(D(10), (ABS5, REL20)) == D(2)
    assert band_width(D(0), (REL20,)) == D(20)  # a zero target: relative drift is in points
    assert band_width(D(10), ()) is None


def test_the_margin_must_keep_the_landing_inside_the_band() -> None:
    with pytest.raises(InvalidSettings):
        PortfolioSettings(band_edge_margin_percent=D(0))
    with pytest.raises(InvalidSettings):
        PortfolioSettings(band_edge_margin_percent=D(101))
    to_target = PortfolioSettings(
        rebalance_to=RebalanceTo.BAND_EDGE, band_edge_margin_percent=D(100)
    )
    result = plan({"A": "6600", "B": "3400"}, "0", {"A": "60", "B": "40"}, to=to_target)
    assert trades(result) == {("sell", "A"): D("600.00"), ("buy", "B"): D("600.00")}


# -- properties ---------------------------------------------------------------------------

SYMBOLS = ("A", "B", "C", "D")
money = st.integers(min_value=0, max_value=100_000).map(D)


@st.composite
def books(draw: st.DrawFn) -> tuple[dict[str, D], D, TargetWeights, tuple[RebalanceCondition, ...]]:
    count = draw(st.integers(min_value=1, max_value=len(SYMBOLS)))
    cuts = sorted(draw(st.lists(st.integers(1, 99), min_size=count, max_size=count, unique=True)))
    bounds = [0, *cuts, 100]
    parts = [D(bounds[i + 1] - bounds[i]) for i in range(count + 1)]
    assets = dict(zip(SYMBOLS[:count], parts[:count], strict=True))
    targets = TargetWeights(assets, parts[count])
    held = {s: draw(money) for s in draw(st.lists(st.sampled_from(SYMBOLS), unique=True))}
    bands = draw(
        st.lists(
            st.builds(
                RebalanceCondition,
                st.just(ConditionType.DRIFT_BAND),
                st.sampled_from((ConditionSubType.ABSOLUTE, ConditionSubType.RELATIVE)),
                st.integers(1, 30).map(D),
            ),
            min_size=1,
            max_size=2,
        )
    )
    return held, draw(money), targets, tuple(bands)


def drifts_after(held: dict[str, D], cash: D, targets: TargetWeights, result: OrderPlan) -> dict:
    after = dict(held)
    for order in result.orders:
        sign = -1 if order.side is Side.SELL else 1
        after[order.symbol] = after.get(order.symbol, D(0)) + sign * order.qty
        # At price 1 a sell raises its quantity; its notional is that estimate floored to cents.
        cash -= order.notional if order.side is Side.BUY else -order.qty
    prices = {s: price("1") for s in {*after, *targets.assets}}
    return {d.symbol: d for d in compute_drifts(after, cash, prices, targets)}


@settings(max_examples=300, deadline=None)
@given(books())
def test_no_drift_grows_and_breaches_land_inside_the_band(book) -> None:
    held, cash, targets, bands = book
    if sum(held.values(), cash) == 0:
        return
    prices = {s: price("1") for s in {*held, *targets.assets}}
    before = {d.symbol: d for d in compute_drifts(held, cash, prices, targets)}
    result = generate_orders(
        RunType.FULL_REBALANCE, held, cash, targets, prices, EDGE, NOW, MAX_AGE, bands=bands
    )
    after = drifts_after(held, cash, targets, result)
    cent = D("0.01") * 100 / sum(held.values(), cash)  # one cent of rounding, in points
    spent = sum((o.notional for o in result.orders if o.side is Side.BUY), D(0))
    raised = sum((o.notional for o in result.orders if o.side is Side.SELL), D(0))
    assert spent <= cash + raised  # never spends cash it does not have
    for symbol, drift in after.items():
        if symbol is None:
            continue
        old = before[symbol]
        assert drift.absolute <= old.absolute + cent  # toward target, never past it
        crossed = (drift.current - drift.target) * (old.current - old.target) < 0
        assert not crossed or drift.absolute <= cent  # past target only by rounding
        width = band_width(old.target, bands)
        assert width is not None
        if old.absolute >= width and old.target > 0 and not result.skipped_orders:
            assert drift.absolute < old.absolute  # a breach always trades toward target


@settings(max_examples=300, deadline=None)
@given(
    st.integers(1, 99).map(D),
    money.filter(lambda m: m > 100),
    money.filter(lambda m: m > 100),
    st.integers(1, 30).map(D),
)
def test_a_two_asset_breach_always_lands_strictly_inside_its_band(
    weight: D, a: D, b: D, band: D
) -> None:
    """Two assets and no cash: a breach of one is the mirror breach of the other, so the
    portfolio can always fund the trade, and both land inside."""
    targets = TargetWeights({"A": weight, "B": 100 - weight})
    bands = (RebalanceCondition(ConditionType.DRIFT_BAND, ConditionSubType.ABSOLUTE, band),)
    held = {"A": a, "B": b}
    prices = {s: price("1") for s in held}
    result = generate_orders(
        RunType.FULL_REBALANCE, held, D(0), targets, prices, EDGE, NOW, MAX_AGE, bands=bands
    )
    if result.skipped_orders:
        return  # a trade under the minimum notional is reported, not made
    after = drifts_after(held, D(0), targets, result)
    cent = D("0.01") * 100 / (a + b)
    assert all(d.absolute < band + cent for s, d in after.items() if s is not None)


def test_band_edge_trades_conserve_money() -> None:
    edge = band_edge_trades(
        {"A": D(6600), "B": D(3400)},
        {"A": D(6000), "B": D(4000)},
        {"A": D(500), "B": D(500)},
        D(0),
        D(0),
        D(0),
    )
    assert sum(edge.sells.values()) == sum(edge.buys.values()) == D(200)
    assert edge.breaching == ("A", "B")


def test_the_setting_arrives_from_the_wire_and_survives_the_store() -> None:
    from rebal_optimizer.adapters.domain_json import settings_json, settings_of
    from rebal_optimizer.service_layer.inputs import patched_settings
    from rebal_schemas import PortfolioSettingsChanged
    from rebal_schemas import RebalanceTo as WireRebalanceTo

    event = PortfolioSettingsChanged(
        portfolio_id="p",
        rebalance_to=WireRebalanceTo.band_edge,
        band_edge_margin_percent=D(35),
        producer="test",
    )
    patched = patched_settings(PortfolioSettings(), event)
    assert patched.rebalance_to is RebalanceTo.BAND_EDGE
    assert patched.band_edge_margin_percent == D(35)
    assert settings_of(settings_json(patched)) == patched
    older = {k: v for k, v in settings_json(PortfolioSettings()).items() if "band" not in k}
    older.pop("rebalance_to")
    assert settings_of(older).rebalance_to is RebalanceTo.TARGET  # a document from before
    kept = patched_settings(patched, PortfolioSettingsChanged(portfolio_id="p", producer="test"))
    assert kept.rebalance_to is RebalanceTo.BAND_EDGE  # absent: unchanged


async def test_a_band_edge_portfolio_trades_to_the_edge_through_the_handlers(env) -> None:
    from rebal_schemas import OptimizationCreated
    from rebal_schemas import RebalanceCondition as WireCondition

    await env.price("SPY", "100")
    await env.price("TLT", "50")
    band = WireCondition(type="drift_band", sub_type="absolute", percent=D(5))
    await env.model("m1", conditions=(band,))
    await env.settings("p", model_id="m1", rebalance_to="band_edge")
    await env.holdings("p", "0", SPY="66", TLT="68")  # SPY 66 % (target 60), TLT 34 %, cash 0
    (opt,) = [e for e in env.new() if isinstance(e, OptimizationCreated)]
    # SPY to 60 + 5 - 1 = 64 %, cash back inside its band (1 %), TLT takes the rest: 4 points
    # of turnover where Alpaca's rebalance to target trades 6 (SPY 66 -> 60).
    assert {(o.side, o.symbol, o.qty) for o in opt.orders} == {
        ("sell", "SPY", D(2)),
        ("buy", "TLT", D(2)),
    }
    assert any(r.code == "BAND_EDGE" for r in opt.reasons)
