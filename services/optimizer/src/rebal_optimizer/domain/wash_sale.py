"""The wash-sale guard (`wash_sale_guard: hold`; `off`, the default, trades as before).

A buy of a symbol within 30 days after the portfolio sold it at a loss would disallow that loss
(a wash sale). Where the model names a fallback for the symbol (its `fallbacks`) that can be
bought (priced, fresh, tradable, not in a window of its own), the buy is redirected: the same
money buys the fallback (joined to a buy of it in the plan). Otherwise the buy is held back: not
sent, but reported in the `skipped_orders[]` shape with the reason `WASH_SALE` and the day the
window ends, its cash left as cash. Either way the plan carries a `WASH_SALE` reason naming what
was redirected or held back (the decision record says so). The loss sales are remembered per
portfolio (symbol -> the day of the last sale at a loss) from applied runs, for the 30 days that
matter.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal

from rebal_optimizer.domain.allocation import floor_cents, floor_qty
from rebal_optimizer.domain.enums import Side
from rebal_optimizer.domain.order_plan import WIRE_LIMIT, Order, OrderPlan, SkippedOrder
from rebal_optimizer.domain.reasons import Reason

WASH_SALE = "WASH_SALE"
WINDOW_DAYS = 30


def in_window(sold_on: date, buy_on: date) -> bool:
    """A buy on `buy_on` is a wash sale of a loss sale on `sold_on`: 0..30 days after it."""
    return 0 <= (buy_on - sold_on).days <= WINDOW_DAYS


def remembered(
    memory: Mapping[str, date], sold_at_loss: Iterable[str], on: date
) -> dict[str, date]:
    """The loss sales after `sold_at_loss` were sold on `on`; those out of the window dropped."""
    kept = {s: d for s, d in memory.items() if (on - d).days <= WINDOW_DAYS}
    for symbol in sold_at_loss:
        kept[symbol] = max(on, kept.get(symbol, on))
    return dict(sorted(kept.items()))


@dataclass(frozen=True, slots=True)
class Fallback:
    """What a held-back buy of a symbol may buy instead."""

    symbol: str
    price: Decimal
    whole: bool  # whole shares only (fractional trading off, or not fractionable)


def blocked(memory: Mapping[str, date], today: date) -> frozenset[str]:
    return frozenset(s for s, d in memory.items() if in_window(d, today))


def held_back(
    plan: OrderPlan,
    memory: Mapping[str, date],
    today: date,
    fallbacks: Mapping[str, Fallback] | None = None,
    min_notional: Decimal = Decimal(0),
) -> OrderPlan:
    """The plan without the buys of symbols sold at a loss within the window: redirected to
    their `fallbacks` where a share of it fits the money (and the minimum notional), else held
    back; the orders keep their order (sells first, then buys by symbol), numbered from 1."""
    window = blocked(memory, today)
    wash = [o for o in plan.orders if o.side is Side.BUY and o.symbol in window]
    if not wash:
        return plan
    kept = [o for o in plan.orders if o not in wash]
    redirected: list[tuple[Order, Order]] = []
    for order in wash:
        fallback = (fallbacks or {}).get(order.symbol)
        if fallback is None or fallback.symbol in window:
            continue
        qty = floor_qty(order.notional, fallback.price, fallback.whole)
        notional = floor_cents(qty * fallback.price)
        if qty <= 0 or qty >= WIRE_LIMIT or notional <= 0 or notional < min_notional:
            continue
        instead = Order(order.leg, fallback.symbol, Side.BUY, qty, notional, fallback.price)
        redirected.append((order, instead))
        kept = _joined(kept, instead)
    wash = [o for o in wash if o not in {held for held, _ in redirected}]
    renumbered = tuple(replace(o, leg=i + 1) for i, o in enumerate(_in_plan_order(kept)))
    skipped = tuple(
        SkippedOrder(
            o.symbol,
            o.side,
            o.notional,
            WASH_SALE,
            f"sold at a loss on {memory[o.symbol]}; buys wait until "
            f"{memory[o.symbol] + timedelta(days=WINDOW_DAYS + 1)}",
        )
        for o in wash
    )
    said = [f"{o.symbol} -> {i.symbol}" for o, i in redirected]
    words = ["redirected: " + ", ".join(said)] if said else []
    if wash:
        words.append("held back: " + ", ".join(o.symbol for o in wash))
    note = Reason(WASH_SALE, None, "; ".join(words))
    return replace(
        plan,
        orders=renumbered,
        skipped_orders=(*plan.skipped_orders, *skipped),
        reasons=(*plan.reasons, note),
    )


def _joined(orders: list[Order], buy: Order) -> list[Order]:
    """`buy` added to the plan's buy of the same symbol, or as a buy of its own."""
    for index, order in enumerate(orders):
        if order.side is Side.BUY and order.symbol == buy.symbol:
            merged = replace(order, qty=order.qty + buy.qty, notional=order.notional + buy.notional)
            return [*orders[:index], merged, *orders[index + 1 :]]
    return [*orders, buy]


def _in_plan_order(orders: list[Order]) -> list[Order]:
    """Sells before buys, each by symbol, as order generation numbers them."""
    return sorted(orders, key=lambda o: (o.side is Side.BUY, o.symbol))
