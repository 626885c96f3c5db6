"""Order generation: pure, deterministic, all Decimal (docs/design.md §3 "Order generation").

Rules: sells before buys (lower leg numbers); never sell more than held; never spend more than
the cash left after the sells minus the cash target and buffer; orders under the minimum
notional are skipped and reported in Alpaca's `skipped_orders[]` shape; whole shares where
fractional trading is off or the asset is not fractionable; quantities to 9 decimals and
notionals to cents, rounded down. Unusable prices give a failed plan with reasons, never an
exception.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Context, Decimal, localcontext
from typing import ParamSpec

from rebal_optimizer.domain.allocation import (
    PRECISION,
    ZERO,
    allocate_buys,
    floor_cents,
    floor_qty,
    sell_notional,
    water_fill,
    withdrawal_sells,
)
from rebal_optimizer.domain.band_edge import band_edge_trades, band_width
from rebal_optimizer.domain.enums import RebalanceTo, RunType, Side
from rebal_optimizer.domain.model_portfolio import HUNDRED, RebalanceCondition, TargetWeights
from rebal_optimizer.domain.order_plan import WIRE_LIMIT, Order, OrderPlan, SkippedOrder
from rebal_optimizer.domain.prices import (
    Prices,
    require_aware,
    trading_problems,
    valuation_problems,
)
from rebal_optimizer.domain.reasons import (
    ARITHMETIC_ERROR,
    ASSET_NOT_TRADABLE,
    BAND_EDGE,
    NO_PORTFOLIO_VALUE,
    NOTHING_TO_TRADE,
    ORDER_OUT_OF_BOUNDS,
    WITHDRAWAL_SHORTFALL,
    Reason,
)
from rebal_optimizer.domain.settings import PortfolioSettings

P = ParamSpec("P")

_EXACT = Context(prec=PRECISION)  # traps InvalidOperation, DivisionByZero and Overflow


@dataclass(frozen=True, slots=True)
class _Book:
    """Everything order generation needs, valued once."""

    prices: dict[str, Decimal]
    held: dict[str, Decimal]
    values: dict[str, Decimal]
    target_values: dict[str, Decimal]  # 0 for held symbols outside the targets
    cash: Decimal
    cash_target: Decimal  # cash weight + buffer, plus cash reserved (pending withdrawal)
    total: Decimal
    investable: Decimal  # total less the cash reserved: what the target weights divide
    whole: frozenset[str]
    min_notional: Decimal
    kept: frozenset[str] = frozenset()  # held ineligible symbols a fallback stands in for


def _arithmetic_is_a_reason(plan_orders: Callable[P, OrderPlan]) -> Callable[P, OrderPlan]:
    """Arithmetic never fails the evaluation: a decimal error, or an order beyond what the wire can
    carry, gives a failed plan with the reason (the optimization records it), never an exception
    that would count as a handler bug and dead-letter the event that triggered it."""

    @functools.wraps(plan_orders)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> OrderPlan:
        try:
            plan = plan_orders(*args, **kwargs)
        except ArithmeticError as exc:  # decimal.Overflow, InvalidOperation, DivisionByZero
            return OrderPlan((), reasons=(Reason(ARITHMETIC_ERROR, None, type(exc).__name__),))
        return _within_wire_bounds(plan)

    return guarded


def _within_wire_bounds(plan: OrderPlan) -> OrderPlan:
    amounts: list[tuple[str | None, tuple[Decimal | None, ...]]] = [
        (o.symbol, (o.qty, o.notional, o.expected_price)) for o in plan.orders
    ]
    amounts += [(s.symbol, (s.notional,)) for s in plan.skipped_orders]
    amounts.append((None, (plan.shortfall,)))
    for symbol, values in amounts:
        if any(v is not None and abs(v) >= WIRE_LIMIT for v in values):
            detail = "an order quantity or amount has more than 15 integer digits"
            return OrderPlan((), reasons=(Reason(ORDER_OUT_OF_BOUNDS, symbol, detail),))
    return plan


@_arithmetic_is_a_reason
def generate_orders(
    run_type: RunType,
    holdings: Mapping[str, Decimal],
    cash: Decimal,
    targets: TargetWeights,
    prices: Prices,
    settings: PortfolioSettings,
    now: datetime,
    max_price_age: timedelta,
    amount: Decimal | None = None,
    *,
    reserved_cash: Decimal = ZERO,
    fallbacks: Mapping[str, str] | None = None,
    bands: tuple[RebalanceCondition, ...] = (),
) -> OrderPlan:
    """Orders moving the portfolio toward `targets` for one run type.

    `amount`: withdrawal = cash to raise (cash on hand counts); invest_cash = at most this much
    (None = all uninvested cash); ignored by full_rebalance. `reserved_cash` is kept aside as
    cash on top of the cash target (a pending withdrawal). `fallbacks`: ineligible symbol ->
    the fallback `targets` name instead; a holding of such a symbol is kept as it is (it cannot
    be traded) and counts toward its fallback's target. `bands`: the policy's drift bands, which
    a full rebalance of a portfolio set to `rebalance_to: band_edge` trades to (band_edge.py).
    """
    require_aware(now)
    run_type = RunType(run_type)
    held = {symbol: qty for symbol, qty in holdings.items() if qty > 0}
    kept = {s: f for s, f in (fallbacks or {}).items() if s in held}
    problems = _price_problems(run_type, held, targets, prices, now, max_price_age, set(kept))
    if problems:
        non_tradable = tuple(
            r.symbol
            for r in problems
            if r.code == ASSET_NOT_TRADABLE and r.symbol is not None and r.symbol in targets.assets
        )
        return OrderPlan((), (), _unraised(run_type, amount, cash), tuple(problems), non_tradable)
    with localcontext(_EXACT):
        book = _build_book(held, cash, targets, prices, settings, reserved_cash, kept)
        if book.total <= 0 and run_type is not RunType.WITHDRAWAL:
            return OrderPlan((), reasons=(Reason(NO_PORTFOLIO_VALUE),))
        if run_type is RunType.FULL_REBALANCE:
            if settings.rebalance_to is RebalanceTo.BAND_EDGE and bands:
                return _to_band_edge(book, bands, settings.band_edge_margin_percent)
            return _full_rebalance(book)
        if run_type is RunType.INVEST_CASH:
            budget = book.cash - book.cash_target
            if amount is not None:
                budget = min(budget, amount)
            return _plan(book, {}, _buys(book, budget))
        return _withdrawal(book, amount if amount is not None else ZERO)


def _price_problems(
    run_type: RunType,
    held: Mapping[str, Decimal],
    targets: TargetWeights,
    prices: Prices,
    now: datetime,
    max_price_age: timedelta,
    kept: set[str],
) -> list[Reason]:
    # Only what the run values or trades must be priced and tradable: a withdrawal never buys,
    # invest_cash never sells, a kept holding is not traded.
    valued = set(held) if run_type is RunType.WITHDRAWAL else set(held) | set(targets.assets)
    traded = {
        RunType.FULL_REBALANCE: set(held) | set(targets.assets),
        RunType.INVEST_CASH: set(targets.assets),
        RunType.WITHDRAWAL: set(held),
    }[run_type] - kept
    return valuation_problems(valued, prices, now, max_price_age) + trading_problems(traded, prices)


def _unraised(run_type: RunType, amount: Decimal | None, cash: Decimal) -> Decimal:
    if run_type is not RunType.WITHDRAWAL or amount is None:
        return ZERO
    return max(ZERO, amount - cash)


def _build_book(
    held: dict[str, Decimal],
    cash: Decimal,
    targets: TargetWeights,
    prices: Prices,
    settings: PortfolioSettings,
    reserved_cash: Decimal,
    kept: Mapping[str, str],
) -> _Book:
    effective = targets.with_cash_buffer(settings.cash_buffer_percent)
    symbols = set(held) | set(effective.assets)
    unit = {symbol: prices[symbol].price for symbol in symbols}
    values = {symbol: qty * unit[symbol] for symbol, qty in held.items()}
    total = cash + sum(values.values(), ZERO)
    investable = max(ZERO, total - reserved_cash)
    target_values = {s: investable * effective.assets.get(s, ZERO) / HUNDRED for s in symbols}
    for symbol, fallback in kept.items():  # held as it is, toward its fallback's target
        target_values[symbol] = values[symbol]
        target_values[fallback] = max(ZERO, target_values.get(fallback, ZERO) - values[symbol])
    whole = frozenset(
        s for s in symbols if not (settings.fractional_trading and prices[s].fractionable)
    )
    return _Book(
        prices=unit,
        held=held,
        values=values,
        target_values=target_values,
        cash=cash,
        cash_target=investable * effective.cash / HUNDRED + reserved_cash,
        total=total,
        investable=investable,
        whole=whole,
        min_notional=settings.min_order_notional,
        kept=frozenset(kept),
    )


def _deficits(book: _Book) -> dict[str, Decimal]:
    return {
        s: target - book.values.get(s, ZERO)
        for s, target in book.target_values.items()
        if target > book.values.get(s, ZERO)
    }


def _buys(book: _Book, budget: Decimal) -> dict[str, Decimal]:
    return allocate_buys(_deficits(book), budget, book.prices, book.whole)


def _full_rebalance(book: _Book) -> OrderPlan:
    sells: dict[str, Decimal] = {}
    for symbol, qty_held in book.held.items():
        excess = book.values[symbol] - book.target_values[symbol]
        if excess <= 0:
            continue
        if book.target_values[symbol] == 0:
            sells[symbol] = qty_held  # no longer targeted: sell the whole position
        else:
            qty = min(floor_qty(excess, book.prices[symbol], symbol in book.whole), qty_held)
            if qty > 0:
                sells[symbol] = qty
    return _plan(
        book, sells, _buys(book, book.cash + _counted_proceeds(book, sells) - book.cash_target)
    )


def _counted_proceeds(book: _Book, sells: Mapping[str, Decimal]) -> Decimal:
    """What the sells raise, without those under the minimum notional (they are skipped)."""
    notionals = (sell_notional(q, book.prices[s]) for s, q in sells.items())
    return sum((n for n in notionals if n >= book.min_notional), ZERO)


def _to_band_edge(
    book: _Book, bands: tuple[RebalanceCondition, ...], margin_percent: Decimal
) -> OrderPlan:
    def width(target_value: Decimal) -> Decimal:
        percent = target_value * HUNDRED / book.investable if book.investable > 0 else ZERO
        return book.investable * (band_width(percent, bands) or ZERO) / HUNDRED

    tradable = {s: v for s, v in book.target_values.items() if s not in book.kept}
    trades = band_edge_trades(
        {s: v for s, v in book.values.items() if s not in book.kept},
        tradable,
        {s: width(v) for s, v in tradable.items()},
        book.cash,
        book.cash_target,
        width(book.cash_target),
        margin_percent,
    )
    sells = {
        s: book.held[s]
        if book.target_values[s] == 0
        else min(floor_qty(money, book.prices[s], s in book.whole), book.held[s])
        for s, money in trades.sells.items()
    }
    sells = {s: q for s, q in sells.items() if q > 0}
    # A sell under the minimum notional is skipped: its proceeds must not pay for the buys.
    budget = max(ZERO, book.cash + _counted_proceeds(book, sells) - trades.cash_floor)
    money = trades.buys
    if sum(money.values(), ZERO) > budget:
        money = water_fill(money, budget, cover=False)
    buys = {s: floor_qty(m, book.prices[s], s in book.whole) for s, m in money.items()}
    plan = _plan(book, sells, {s: q for s, q in buys.items() if q > 0})
    if not plan.orders:
        return plan
    note = Reason(BAND_EDGE, None, "to the band's edge: " + (", ".join(trades.breaching) or "cash"))
    return replace(plan, reasons=(*plan.reasons, note))


def _withdrawal(book: _Book, amount: Decimal) -> OrderPlan:
    need = amount - book.cash
    sold = [s for s in book.held if s not in book.kept]
    excess = {s: book.values[s] - book.target_values[s] for s in sold}
    values = {s: book.values[s] for s in sold}
    held = {s: book.held[s] for s in sold}
    sells = withdrawal_sells(excess, values, held, book.prices, book.whole, need, book.min_notional)
    plan = _plan(book, sells, {})
    raised = sum((o.notional for o in plan.orders), ZERO)
    shortfall = max(ZERO, need - raised)
    if shortfall == 0:
        return plan
    reason = Reason(WITHDRAWAL_SHORTFALL, None, f"holdings raise {raised}, short by {shortfall}")
    return OrderPlan(plan.orders, plan.skipped_orders, shortfall, (*plan.reasons, reason))


def _plan(book: _Book, sells: Mapping[str, Decimal], buys: Mapping[str, Decimal]) -> OrderPlan:
    orders: list[Order] = []
    skipped: list[SkippedOrder] = []
    for side, quantities in ((Side.SELL, sells), (Side.BUY, buys)):
        for symbol in sorted(quantities):
            qty = quantities[symbol]
            price = book.prices[symbol]
            notional = floor_cents(qty * price)
            if notional < book.min_notional or notional <= 0:
                detail = f"notional {notional} is below the minimum {book.min_notional}"
                skipped.append(SkippedOrder(symbol, side, notional, reason_details=detail))
            else:
                orders.append(Order(len(orders) + 1, symbol, side, qty, notional, price))
    reasons = () if orders else (Reason(NOTHING_TO_TRADE),)
    return OrderPlan(tuple(orders), tuple(skipped), ZERO, reasons)
