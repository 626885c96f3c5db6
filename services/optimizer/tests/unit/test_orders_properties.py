"""Property tests of order generation (hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from rebal_optimizer.domain import (
    Order,
    OrderPlan,
    PortfolioSettings,
    Price,
    RunType,
    Side,
    TargetWeights,
    compute_drifts,
    generate_orders,
    portfolio_value,
)
from rebal_optimizer.domain.model_portfolio import ZERO

NOW = datetime(2026, 3, 4, 15, tzinfo=UTC)
MAX_AGE = timedelta(minutes=15)
SYMBOLS = ("AAA", "BBB", "CCC", "DDD", "EEE", "FFF")

prices_st = st.decimals(min_value=D("0.50"), max_value=D("2000"), places=2)
qty_st = st.decimals(min_value=D(0), max_value=D("500"), places=4)
cash_st = st.decimals(min_value=D(0), max_value=D("50000"), places=2)


@st.composite
def targets_st(draw: st.DrawFn) -> TargetWeights:
    """Random weights in basis points summing to exactly 100%, possibly with a cash weight."""
    count = draw(st.integers(min_value=1, max_value=len(SYMBOLS)))
    chosen = draw(st.permutations(SYMBOLS))[:count]
    with_cash = draw(st.booleans())
    parts = count + (1 if with_cash else 0)
    cuts = sorted(
        draw(st.lists(st.integers(1, 9999), min_size=parts - 1, max_size=parts - 1, unique=True))
    )
    bounds = [0, *cuts, 10000]
    bps = [bounds[i + 1] - bounds[i] for i in range(parts)]
    assets = {s: D(b) / 100 for s, b in zip(chosen, bps, strict=False)}
    return TargetWeights(assets, D(bps[-1]) / 100 if with_cash else ZERO)


@st.composite
def book_st(draw: st.DrawFn) -> tuple[dict[str, D], D, TargetWeights, dict[str, Price], bool]:
    targets = draw(targets_st())
    held_symbols = draw(st.lists(st.sampled_from(SYMBOLS), unique=True, max_size=len(SYMBOLS)))
    holdings = {s: draw(qty_st) for s in held_symbols}
    cash = draw(cash_st)
    fractionable = draw(st.booleans())
    prices = {
        s: Price(draw(prices_st), True, fractionable or draw(st.booleans()), NOW) for s in SYMBOLS
    }
    return holdings, cash, targets, prices, draw(st.booleans())


def run(
    run_type: RunType,
    book: tuple[dict[str, D], D, TargetWeights, dict[str, Price], bool],
    *,
    min_notional: D = D("1.00"),
    amount: D | None = None,
    buffer: D = ZERO,
) -> OrderPlan:
    holdings, cash, targets, prices, fractional = book
    cfg = PortfolioSettings(
        fractional_trading=fractional, min_order_notional=min_notional, cash_buffer_percent=buffer
    )
    return generate_orders(run_type, holdings, cash, targets, prices, cfg, NOW, MAX_AGE, amount)


def after(holdings: dict[str, D], cash: D, orders: tuple[Order, ...]) -> tuple[dict[str, D], D]:
    """Holdings and cash after every order fills at its expected price."""
    new = dict(holdings)
    for order in orders:
        signed = order.qty if order.side is Side.BUY else -order.qty
        new[order.symbol] = new.get(order.symbol, ZERO) + signed
        cash -= signed * order.expected_price
    return new, cash


def assert_exact_types(plan: OrderPlan) -> None:
    for order in plan.orders:
        assert type(order.qty) is D and type(order.notional) is D
        assert type(order.expected_price) is D and isinstance(order.leg, int)
        assert order.qty == order.qty.quantize(D("0.000000001"))
        assert order.notional == order.notional.quantize(D("0.01"))
    for skipped in plan.skipped_orders:
        assert type(skipped.notional) is D
    assert type(plan.shortfall) is D


@settings(max_examples=150, deadline=None)
@given(book_st(), st.sampled_from(list(RunType)), st.decimals(0, 60000, places=2))
def test_never_sells_more_than_held_nor_spends_more_than_available(
    book: tuple[dict[str, D], D, TargetWeights, dict[str, Price], bool],
    run_type: RunType,
    amount: D,
) -> None:
    holdings, cash = book[0], book[1]
    plan = run(run_type, book, amount=amount)
    assert_exact_types(plan)
    sold: dict[str, D] = {}
    for order in plan.orders:
        assert order.qty > 0 and order.notional >= D("1.00")
        if order.side is Side.SELL:
            sold[order.symbol] = sold.get(order.symbol, ZERO) + order.qty
    assert all(qty <= holdings.get(symbol, ZERO) for symbol, qty in sold.items())
    proceeds = sum((o.notional for o in plan.orders if o.side is Side.SELL), ZERO)
    spent = sum((o.qty * o.expected_price for o in plan.orders if o.side is Side.BUY), ZERO)
    assert spent <= cash + proceeds - cash_floor(book) or spent == 0
    legs = [o.leg for o in plan.orders]
    assert legs == list(range(1, len(legs) + 1))
    sides = [o.side for o in plan.orders]
    assert sides == sorted(sides, key=lambda side: side is Side.BUY)  # sells first


def cash_floor(book: tuple[dict[str, D], D, TargetWeights, dict[str, Price], bool]) -> D:
    holdings, cash, targets, prices, _ = book
    return portfolio_value(holdings, cash, prices) * targets.cash / 100


@settings(max_examples=150, deadline=None)
@given(book_st(), st.sampled_from([D("1.00"), D("0.01"), D("5")]))
def test_fractional_full_rebalance_lands_within_min_notional_rounding_of_target(
    book: tuple[dict[str, D], D, TargetWeights, dict[str, Price], bool], min_notional: D
) -> None:
    holdings, cash, targets, prices, _ = book
    fractional_prices = {s: Price(p.price, True, True, NOW) for s, p in prices.items()}
    book = (holdings, cash, targets, fractional_prices, True)
    plan = run(RunType.FULL_REBALANCE, book, min_notional=min_notional)
    new_holdings, new_cash = after(holdings, cash, plan.orders)
    total = portfolio_value(new_holdings, new_cash, fractional_prices)
    if total == 0:
        return
    # Each skipped order leaves less than the minimum notional undone, and a skipped sell can
    # shorten the buys by at most that much; a cent per order for rounding on top.
    slack = (min_notional + D("0.02")) * (len(SYMBOLS) + 1)
    for symbol in set(targets.assets) | set(holdings):
        value = new_holdings.get(symbol, ZERO) * fractional_prices[symbol].price
        target = total * targets.assets.get(symbol, ZERO) / 100
        assert abs(value - target) <= slack, (symbol, value, target)


@settings(max_examples=150, deadline=None)
@given(
    book_st(),
    st.one_of(st.none(), st.decimals(0, 20000, places=2)),
    st.sampled_from([ZERO, D("0.25")]),
)
def test_invest_cash_never_sells_and_never_increases_the_largest_drift(
    book: tuple[dict[str, D], D, TargetWeights, dict[str, Price], bool],
    amount: D | None,
    buffer: D,
) -> None:
    holdings, cash, targets, prices, _ = book
    plan = run(RunType.INVEST_CASH, book, amount=amount, buffer=buffer)
    assert all(order.side is Side.BUY for order in plan.orders)
    effective = targets.with_cash_buffer(buffer)
    before = compute_drifts(holdings, cash, prices, effective)
    new_holdings, new_cash = after(holdings, cash, plan.orders)
    later = compute_drifts(new_holdings, new_cash, prices, effective)
    for measure in ("absolute", "relative"):
        largest_before = max((getattr(d, measure) for d in before), default=ZERO)
        largest_after = max((getattr(d, measure) for d in later), default=ZERO)
        assert largest_after <= largest_before
    if amount is not None:
        assert sum((o.qty * o.expected_price for o in plan.orders), ZERO) <= amount


@settings(max_examples=150, deadline=None)
@given(book_st(), st.decimals(min_value=D("0.01"), max_value=D(60000), places=2))
def test_withdrawal_raises_the_amount_or_reports_the_shortfall(
    book: tuple[dict[str, D], D, TargetWeights, dict[str, Price], bool], amount: D
) -> None:
    holdings, cash, _, prices, _ = book
    plan = run(RunType.WITHDRAWAL, book, amount=amount)
    assert all(order.side is Side.SELL for order in plan.orders)
    raised = sum((o.notional for o in plan.orders), ZERO)
    assert cash + raised + plan.shortfall >= amount
    if plan.shortfall > 0:
        # Only when every holding that can be sold (worth the minimum notional) is sold in full.
        sold = {o.symbol: o.qty for o in plan.orders}
        for symbol, qty in holdings.items():
            if qty * prices[symbol].price >= D("1.00"):
                assert sold.get(symbol) == qty, (symbol, qty, sold)
        assert plan.shortfall == amount - cash - raised
    else:
        assert cash + raised >= amount


@settings(max_examples=60, deadline=None)
@given(book_st(), st.sampled_from(list(RunType)))
def test_same_input_gives_same_orders(
    book: tuple[dict[str, D], D, TargetWeights, dict[str, Price], bool], run_type: RunType
) -> None:
    holdings, cash, targets, prices, fractional = book
    shuffled = (
        dict(reversed(list(holdings.items()))),
        cash,
        TargetWeights(dict(reversed(list(targets.assets.items()))), targets.cash),
        dict(reversed(list(prices.items()))),
        fractional,
    )
    first = run(run_type, book, amount=D(1000))
    second = run(run_type, shuffled, amount=D(1000))
    assert first == second
