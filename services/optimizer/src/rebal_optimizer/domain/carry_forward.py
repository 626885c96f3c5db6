"""Carry-forward: an order skipped below the minimum notional is not lost but kept, per symbol,
as a signed notional (+ buy, - sell) on the portfolio, and joined to the next run's order for
that symbol.

Joining: the joined amount is the fresh order's signed notional (or the fresh skipped order's)
plus the carried one: added to a same-side order, netted against an opposite one. When the
joined amount reaches the minimum it trades, even if the symbol alone would not; otherwise it
is skipped again and carried on. What cannot be traded of it (a sell beyond the holding, a buy
beyond the spare cash, the rest below a whole share or a cent) stays carried, so no notional is
created or lost: carried + fresh = traded + carried on + dropped, per symbol.

A carried amount is dropped, with a `CARRY_DROPPED` reason, when its symbol is neither targeted
nor held any more (it left the model) or has no price: it is reported, never silently lost.

Only a recommended plan (one that becomes a run) updates what is carried: a plan that trades
nothing leaves the drift in the book, and the next evaluation sees it again. The carried
amount of a symbol stays below the minimum notional, except where whole shares or the cash
hold it back, so joining it can overshoot a target by less than one minimum order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, localcontext

from rebal_optimizer.domain.allocation import PRECISION, ZERO, floor_cents, floor_qty
from rebal_optimizer.domain.enums import Side
from rebal_optimizer.domain.order_plan import Order, OrderPlan, SkippedOrder
from rebal_optimizer.domain.reasons import (
    CARRIED_FORWARD,
    CARRY_DROPPED,
    NOTHING_TO_TRADE,
    Reason,
)


@dataclass(frozen=True, slots=True)
class TradingBook:
    """What joining needs to size an order: unit prices (symbols without one are missing),
    quantities held, whole-share symbols, the symbols still wanted (targets and holdings),
    the cash free to spend and the minimum notional."""

    prices: Mapping[str, Decimal]
    held: Mapping[str, Decimal]
    whole: frozenset[str]
    wanted: frozenset[str]
    spare_cash: Decimal
    min_notional: Decimal


@dataclass(frozen=True, slots=True)
class CarryOutcome:
    plan: OrderPlan
    carried: dict[str, Decimal]  # what the portfolio carries once this plan runs
    dropped: dict[str, Decimal] = field(default_factory=dict)
    joined: dict[str, Decimal] = field(default_factory=dict)  # carried amounts put into orders


def _signed(side: Side, notional: Decimal) -> Decimal:
    return notional if Side(side) is Side.BUY else -notional


def carry_forward(
    plan: OrderPlan, carried: Mapping[str, Decimal], book: TradingBook
) -> CarryOutcome:
    """Join `carried` to `plan` (module docstring). A failed plan is returned as it is."""
    if plan.failed:
        return CarryOutcome(plan, dict(carried))
    with localcontext(prec=PRECISION):
        outcome, spare = _join(plan, carried, book, frozenset())
        if spare < 0:
            # Netting a carried buy against a fresh sell took away proceeds the plan's buys
            # needed: those carried amounts wait for a later run instead.
            held_back = frozenset(
                o.symbol
                for o in plan.orders
                if o.side is Side.SELL and carried.get(o.symbol, 0) > 0
            )
            outcome, spare = _join(plan, carried, book, held_back)
        return outcome


def _join(
    plan: OrderPlan, carried: Mapping[str, Decimal], book: TradingBook, held_back: frozenset[str]
) -> tuple[CarryOutcome, Decimal]:
    """The joined plan and the spare cash it leaves (negative: its buys are not funded)."""
    reasons: list[Reason] = []
    dropped: dict[str, Decimal] = {}
    usable: dict[str, Decimal] = {}
    for symbol in sorted(carried):
        amount = carried[symbol]
        if amount == 0:
            continue
        why = _drop_reason(symbol, book)
        if symbol in held_back:
            detail = f"carried {amount:+} USD kept: netting it would leave the buys unfunded"
            reasons.append(Reason(CARRIED_FORWARD, symbol, detail))
        elif why:
            dropped[symbol] = amount
            reasons.append(Reason(CARRY_DROPPED, symbol, f"carried {amount:+} USD dropped: {why}"))
        else:
            usable[symbol] = amount
    fresh_orders = {o.symbol: o for o in plan.orders}
    fresh_skipped = {s.symbol: s for s in plan.skipped_orders}
    spare = book.spare_cash + sum(
        (_signed(o.side, o.notional) * -1 for o in plan.orders), ZERO
    )  # what the plan leaves of the spare cash: sells add, buys spend
    sells: dict[str, tuple[Decimal, Decimal]] = {}  # symbol -> (qty, notional)
    buys: dict[str, tuple[Decimal, Decimal]] = {}
    skipped: list[SkippedOrder] = []
    after: dict[str, Decimal] = {s: carried[s] for s in held_back if carried.get(s)}
    joined_amounts: dict[str, Decimal] = {}
    for order in plan.orders:
        if order.symbol not in usable:
            (sells if order.side is Side.SELL else buys)[order.symbol] = (order.qty, order.notional)
    for item in plan.skipped_orders:
        if item.symbol not in usable:
            skipped.append(item)
            after[item.symbol] = _signed(item.side, item.notional)
            detail = f"{item.notional} USD below the minimum, carried to the next run"
            reasons.append(Reason(CARRIED_FORWARD, item.symbol, detail))
    # Sells first: what they raise can pay for a joined buy.
    ordered = sorted(
        usable, key=lambda s: (_fresh(s, fresh_orders, fresh_skipped) + usable[s] > 0, s)
    )
    for symbol in ordered:  # their fresh orders are replaced: out of the plan's budget
        if symbol in fresh_orders:
            spare += _signed(fresh_orders[symbol].side, fresh_orders[symbol].notional)
    for symbol in ordered:
        fresh = _fresh(symbol, fresh_orders, fresh_skipped)
        joined = fresh + usable[symbol]
        qty, notional = _size(symbol, joined, book, spare)
        if qty > 0:
            if joined > 0:
                buys[symbol] = (qty, notional)
                spare -= notional
            else:
                sells[symbol] = (qty, notional)
                spare += notional
        rest = joined - (notional if joined > 0 else -notional)
        if qty > 0 or rest == 0:
            joined_amounts[symbol] = usable[symbol]
        if rest != 0:
            after[symbol] = rest
            side = Side.BUY if rest > 0 else Side.SELL
            detail = f"carried {usable[symbol]:+} USD + this run's {fresh:+} USD; {rest:+} USD carried on"
            skipped.append(SkippedOrder(symbol, side, abs(rest), reason_details=detail))
        verb = "joined to the order" if qty > 0 else "netted out" if joined == 0 else "kept"
        reasons.append(
            Reason(
                CARRIED_FORWARD,
                symbol,
                f"carried {usable[symbol]:+} USD {verb}: {fresh:+} -> {joined:+} USD",
            )
        )
    orders = _numbered(sells, buys, book.prices)
    kept = tuple(r for r in plan.reasons if not (orders and r.code == NOTHING_TO_TRADE))
    new_plan = OrderPlan(
        orders,
        tuple(sorted(skipped, key=lambda s: (s.side is not Side.SELL, s.symbol))),
        plan.shortfall,
        (*kept, *reasons),
        plan.non_tradable_targets,
    )
    return CarryOutcome(new_plan, after, dropped, joined_amounts), spare


def _drop_reason(symbol: str, book: TradingBook) -> str:
    if symbol not in book.wanted:
        return "the symbol is neither targeted nor held any more"
    price = book.prices.get(symbol)
    if price is None or not price > 0:
        return "no usable price"
    return ""


def _fresh(
    symbol: str, orders: Mapping[str, Order], skipped: Mapping[str, SkippedOrder]
) -> Decimal:
    if symbol in orders:
        return _signed(orders[symbol].side, orders[symbol].notional)
    if symbol in skipped:
        return _signed(skipped[symbol].side, skipped[symbol].notional)
    return ZERO


def _size(
    symbol: str, joined: Decimal, book: TradingBook, spare: Decimal
) -> tuple[Decimal, Decimal]:
    """(qty, notional) of the order for a joined amount; (0, 0) when it cannot trade."""
    if joined == 0 or abs(joined) < book.min_notional:
        return ZERO, ZERO
    price = book.prices[symbol]
    whole = symbol in book.whole
    if joined > 0:
        money = min(joined, max(ZERO, spare))
        qty = floor_qty(money, price, whole)
    else:
        qty = min(floor_qty(-joined, price, whole), book.held.get(symbol, ZERO))
    notional = floor_cents(qty * price)
    if qty <= 0 or notional < book.min_notional or notional <= 0:
        return ZERO, ZERO
    return qty, notional


def _numbered(
    sells: Mapping[str, tuple[Decimal, Decimal]],
    buys: Mapping[str, tuple[Decimal, Decimal]],
    prices: Mapping[str, Decimal],
) -> tuple[Order, ...]:
    orders: list[Order] = []
    for side, trades in ((Side.SELL, sells), (Side.BUY, buys)):
        for symbol in sorted(trades):
            qty, notional = trades[symbol]
            orders.append(Order(len(orders) + 1, symbol, side, qty, notional, prices[symbol]))
    return tuple(orders)
