"""Each planned sale with the lots it is expected to consume (the portfolio's lot policy at the
order's expected price, on the evaluation's day) and their estimated realized gain, short- and
long-term. The fill may differ; the lots actually consumed are booked at the fill (lot_ledger.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date
from decimal import Decimal

from rebal_optimizer.domain.enums import Side
from rebal_optimizer.domain.lot_selection import select_lots
from rebal_optimizer.domain.lots import Lots, realized_gain, reconciled
from rebal_optimizer.domain.order_plan import OrderPlan
from rebal_optimizer.domain.tax_policy import LotPolicy


def with_sale_lots(
    plan: OrderPlan,
    lots: Lots,
    holdings: Mapping[str, Decimal],
    prices: Mapping[str, Decimal],
    policy: LotPolicy,
    today: date,
) -> OrderPlan:
    """`plan` with every sell order carrying its lots and gain; buys unchanged."""
    if not any(o.side is Side.SELL for o in plan.orders):
        return plan
    book = reconciled(lots, holdings, prices, today)
    orders = []
    for order in plan.orders:
        if order.side is Side.SELL:
            _, takes = select_lots(
                book.get(order.symbol, ()), order.qty, policy, order.expected_price, today
            )
            order = replace(order, lots=takes, gain=realized_gain(takes, order.expected_price))
        orders.append(order)
    return replace(plan, orders=tuple(orders))
