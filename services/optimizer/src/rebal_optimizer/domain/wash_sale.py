"""The wash-sale guard (`wash_sale_guard: hold`; `off`, the default, trades as before).

A buy of a symbol within 30 days after the portfolio sold it at a loss would disallow that loss
(a wash sale), so the guard holds the buy back: it is not sent, but reported in the
`skipped_orders[]` shape with the reason `WASH_SALE` and the day the window ends, and the plan
carries a `WASH_SALE` reason naming the symbols (the decision record says so). The cash it would
have spent stays cash. The loss sales are remembered per portfolio (symbol -> the day of the
last sale at a loss) from applied runs, for the 30 days that matter.

Models' `fallbacks` stand in for symbols that cannot be traded at all, not for a symbol held back
for a month, so a held-back buy is not redirected to another symbol.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import date, timedelta

from rebal_optimizer.domain.enums import Side
from rebal_optimizer.domain.orders import OrderPlan, SkippedOrder
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


def held_back(plan: OrderPlan, memory: Mapping[str, date], today: date) -> OrderPlan:
    """The plan without the buys of symbols sold at a loss within the window; the others keep
    their order (sells first) and are numbered again from 1."""
    blocked = {s for s, d in memory.items() if in_window(d, today)}
    wash = [o for o in plan.orders if o.side is Side.BUY and o.symbol in blocked]
    if not wash:
        return plan
    kept = [o for o in plan.orders if o not in wash]
    renumbered = tuple(replace(o, leg=i + 1) for i, o in enumerate(kept))
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
    note = Reason(WASH_SALE, None, "held back: " + ", ".join(o.symbol for o in wash))
    return replace(
        plan,
        orders=renumbered,
        skipped_orders=(*plan.skipped_orders, *skipped),
        reasons=(*plan.reasons, note),
    )
