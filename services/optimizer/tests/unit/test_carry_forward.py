"""Carry-forward of orders skipped below the minimum notional: joined to a same-side order,
netted against an opposite one, traded once the joined amount reaches the minimum, dropped with
a reason when the symbol is gone or unpriced; a property: no notional is created or lost."""

from __future__ import annotations

from decimal import Decimal as D

from hypothesis import given
from hypothesis import strategies as st

from rebal_optimizer.domain import OrderPlan, Side
from rebal_optimizer.domain.carry_forward import CarryOutcome, TradingBook, carry_forward
from rebal_optimizer.domain.order_plan import Order, SkippedOrder
from rebal_optimizer.domain.portfolio import Portfolio
from rebal_optimizer.domain.reasons import NOTHING_TO_TRADE, Reason

SYMBOLS = ("SPY", "TLT", "GLD")


def book(spare: str = "1000", *, whole: frozenset[str] = frozenset(), **held: str) -> TradingBook:
    """`spare`: the cash free to spend before the plan."""
    return TradingBook(
        prices={s: D(1) for s in SYMBOLS},
        held={s: D(q) for s, q in held.items()},
        whole=whole,
        wanted=frozenset(SYMBOLS),
        spare_cash=D(spare),
        min_notional=D(1),
    )


def buy(symbol: str, notional: str, leg: int = 1) -> Order:
    return Order(leg, symbol, Side.BUY, D(notional), D(notional), D(1))


def sell(symbol: str, notional: str, leg: int = 1) -> Order:
    return Order(leg, symbol, Side.SELL, D(notional), D(notional), D(1))


def codes(outcome: CarryOutcome) -> list[tuple[str, str | None]]:
    return [(r.code, r.symbol) for r in outcome.plan.reasons]


def test_a_carried_buy_joins_a_same_side_order() -> None:
    out = carry_forward(OrderPlan((buy("SPY", "10.00"),)), {"SPY": D("0.60")}, book())
    assert [(o.side, o.symbol, o.notional) for o in out.plan.orders] == [
        (Side.BUY, "SPY", D("10.60"))
    ]
    assert out.carried == {} and out.joined == {"SPY": D("0.60")}
    assert ("CARRIED_FORWARD", "SPY") in codes(out)


def test_a_carried_sell_is_netted_against_an_opposite_order() -> None:
    out = carry_forward(OrderPlan((buy("SPY", "10.00"),)), {"SPY": D("-0.60")}, book(SPY="50"))
    assert [(o.side, o.notional) for o in out.plan.orders] == [(Side.BUY, D("9.40"))]
    assert out.carried == {}


def test_a_joined_amount_reaching_the_minimum_trades_though_the_symbol_alone_would_not() -> None:
    skipped = SkippedOrder("TLT", Side.BUY, D("0.50"))
    plan = OrderPlan((), (skipped,), reasons=(Reason(NOTHING_TO_TRADE),))
    out = carry_forward(plan, {"TLT": D("0.70")}, book())
    assert [(o.side, o.symbol, o.notional, o.leg) for o in out.plan.orders] == [
        (Side.BUY, "TLT", D("1.20"), 1)
    ]
    assert out.plan.is_recommended and NOTHING_TO_TRADE not in [c for c, _ in codes(out)]
    assert out.plan.skipped_orders == () and out.carried == {}


def test_a_joined_amount_still_below_the_minimum_is_carried_on() -> None:
    plan = OrderPlan((sell("SPY", "5.00"),), (SkippedOrder("TLT", Side.BUY, D("0.20")),))
    out = carry_forward(plan, {"TLT": D("0.30")}, book(SPY="10"))
    assert out.carried == {"TLT": D("0.50")}
    (skipped,) = out.plan.skipped_orders
    assert (skipped.symbol, skipped.side, skipped.notional) == ("TLT", Side.BUY, D("0.50"))
    assert "carried on" in skipped.reason_details


def test_a_new_skipped_order_is_carried_and_the_others_are_kept() -> None:
    plan = OrderPlan(
        (sell("SPY", "5.00"), buy("TLT", "4.00", 2)), (SkippedOrder("GLD", Side.SELL, D("0.40")),)
    )
    out = carry_forward(plan, {}, book(SPY="10", GLD="3"))
    assert out.plan.orders == plan.orders
    assert out.carried == {"GLD": D("-0.40")}
    assert ("CARRIED_FORWARD", "GLD") in codes(out)


def test_a_carried_amount_whose_symbol_is_gone_or_unpriced_is_dropped_with_a_reason() -> None:
    gone = TradingBook({"SPY": D(1)}, {}, frozenset(), frozenset({"SPY", "TLT"}), D(100), D(1))
    out = carry_forward(OrderPlan((buy("SPY", "5"),)), {"OLD": D("0.5"), "TLT": D("-0.3")}, gone)
    assert out.dropped == {"OLD": D("0.5"), "TLT": D("-0.3")}
    assert out.carried == {}
    details = {r.symbol: r.detail for r in out.plan.reasons if r.code == "CARRY_DROPPED"}
    assert "neither targeted nor held" in details["OLD"] and "no usable price" in details["TLT"]


def test_a_joined_buy_never_spends_more_than_the_spare_cash_nor_a_sell_more_than_held() -> None:
    out = carry_forward(OrderPlan((buy("SPY", "10"),)), {"SPY": D("0.9")}, book("10.40"))
    assert out.plan.orders[0].notional == D("10.40") and out.carried == {"SPY": D("0.50")}
    out = carry_forward(OrderPlan((sell("SPY", "3"),)), {"SPY": D("-0.9")}, book(SPY="3.5"))
    assert out.plan.orders[0].notional == D("3.50") and out.carried == {"SPY": D("-0.40")}


def test_sells_keep_lower_legs_than_buys_after_joining() -> None:
    plan = OrderPlan((sell("TLT", "5"), buy("SPY", "5", 2)))
    out = carry_forward(plan, {"GLD": D("-0.5")}, book(TLT="10", GLD="0"))
    assert [(o.leg, o.side) for o in out.plan.orders] == [(1, Side.SELL), (2, Side.BUY)]


def test_a_failed_plan_changes_nothing() -> None:
    failed = OrderPlan((), reasons=(Reason("PRICE_MISSING", "SPY"),))
    out = carry_forward(failed, {"SPY": D("0.5")}, book())
    assert out.plan == failed and out.carried == {"SPY": D("0.5")}


def _signed(side: Side, notional: D) -> D:
    return notional if side is Side.BUY else -notional


amounts = st.decimals(min_value=D("-30"), max_value=D("30"), places=2)


@given(
    carried=st.dictionaries(st.sampled_from((*SYMBOLS, "OLD")), amounts, max_size=4),
    fresh=st.dictionaries(st.sampled_from(SYMBOLS), amounts, max_size=3),
    spare=st.decimals(min_value=D(0), max_value=D(20), places=2),
    whole=st.frozensets(st.sampled_from(SYMBOLS)),
)
def test_no_notional_is_created_or_lost(
    carried: dict[str, D], fresh: dict[str, D], spare: D, whole: frozenset[str]
) -> None:
    """Per symbol: carried + this run's = traded + carried on + dropped."""
    orders, skipped = [], []
    for symbol, amount in sorted(fresh.items()):
        side = Side.BUY if amount > 0 else Side.SELL
        if abs(amount) >= 1:
            orders.append(Order(len(orders) + 1, symbol, side, abs(amount), abs(amount), D(1)))
        elif amount:
            skipped.append(SkippedOrder(symbol, side, abs(amount)))
    trading = TradingBook(
        {s: D(1) for s in SYMBOLS},
        {s: D(40) for s in SYMBOLS},
        whole,
        frozenset(SYMBOLS),
        spare,
        D(1),
    )
    out = carry_forward(OrderPlan(tuple(orders), tuple(skipped)), carried, trading)
    for symbol in {*carried, *fresh}:
        traded = sum(
            (_signed(o.side, o.notional) for o in out.plan.orders if o.symbol == symbol), D(0)
        )
        before = carried.get(symbol, D(0)) + fresh.get(symbol, D(0))
        after = traded + out.carried.get(symbol, D(0)) + out.dropped.get(symbol, D(0))
        assert before == after, symbol
    spent = sum((_signed(o.side, o.notional) for o in out.plan.orders), D(0))
    planned = sum((_signed(o.side, o.notional) for o in orders), D(0))
    assert spent <= max(planned, spare), (
        carried,
        fresh,
        spare,
        whole,
        out.plan.orders,
    )  # joining never spends cash it does not have
    assert len({o.symbol for o in out.plan.orders}) == len(out.plan.orders)


def test_the_carried_amounts_survive_the_store_and_old_documents_carry_nothing() -> None:
    from rebal_optimizer.adapters.portfolio_document import _portfolio_json, _portfolio_of

    portfolio = Portfolio("p").carry({"SPY": D("0.40"), "TLT": D("-0.25"), "GLD": D(0)})
    assert portfolio.carried == {"SPY": D("0.40"), "TLT": D("-0.25")}
    doc = _portfolio_json(portfolio)
    assert _portfolio_of(doc) == portfolio
    doc.pop("carried")
    assert _portfolio_of(doc).carried == {}


async def _complete(env, opt) -> None:  # type: ignore[no-untyped-def]
    from ..run_events import completed, settled

    price = {"SPY": D(100), "TLT": D(50)}
    qty = {
        o.symbol: o.qty if o.qty is not None else o.notional / price[o.symbol] for o in opt.orders
    }
    delta = {o.symbol: (qty[o.symbol] if o.side == "buy" else -qty[o.symbol]) for o in opt.orders}
    cash = sum((price[o.symbol] * -delta[o.symbol] for o in opt.orders), D(0)).quantize(D("0.01"))
    run = completed(opt, holdings_delta=delta, cash_delta=cash)
    await env.handlers.run_completed(run)
    await env.handlers.run_settled(settled(run))


async def _next_day_deposit(env, amount: str):  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from rebal_schemas import OptimizationCreated

    env.clock.advance(timedelta(days=1))
    await env.price("SPY", "100")
    await env.price("TLT", "50")
    await env.deposit("p", amount)
    (opt,) = [e for e in env.new() if isinstance(e, OptimizationCreated)]
    return opt


async def test_a_skipped_buy_is_carried_and_joined_to_the_next_run_through_the_handlers(
    env,
) -> None:
    from rebal_schemas import OptimizationCreated

    await env.funded("p", min_order_notional=D(20), carry_forward_skipped=True)
    (first,) = [e for e in env.new() if isinstance(e, OptimizationCreated)]
    await _complete(env, first)
    assert (await env.record("p")).account.portfolio.carried == {}
    # 45 USD, 43.50 above the cash target: SPY's share trades, TLT's 16 USD is below 20
    second = await _next_day_deposit(env, "45")
    assert [o.symbol for o in second.orders] == ["SPY"]
    (skipped,) = second.skipped_orders
    carried = (await env.record("p")).account.portfolio.carried
    assert carried == {"TLT": skipped.notional}
    assert any(r.code == "CARRIED_FORWARD" and "TLT" in r.detail for r in second.reasons)
    await _complete(env, second)
    # 8 USD more: TLT's share alone (18.55) is below the minimum; with what was carried it
    # trades, as far as the cash above its target goes (the rest is carried on)
    third = await _next_day_deposit(env, "8")
    assert [(o.symbol, o.side) for o in third.orders] == [("TLT", "buy")]
    assert third.orders[0].notional == D("23.35")
    assert any("TLT: carried +15.75 USD joined" in r.detail for r in third.reasons)
    carried = (await env.record("p")).account.portfolio.carried
    assert carried == {"SPY": D("4.80"), "TLT": D("10.95")}
