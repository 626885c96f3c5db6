"""A run's fills on the portfolio's lots, where its trades are applied (runs.py).

A buy fill opens a lot at its fill price on its trade day; a sell fill consumes lots in the order
of the portfolio's lot policy at its fill price, and a sale that realizes a loss is remembered for
the wash-sale guard (wash_sale.py). The lots are then reconciled with the holdings the run left
(lots.py), so a clamped sale or a trade reported without its fill still leaves lots that match.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from rebal_optimizer.domain.enums import Side
from rebal_optimizer.domain.lot_selection import select_lots
from rebal_optimizer.domain.lots import Lot, opened, realized_gain, reconciled
from rebal_optimizer.domain.portfolio import Portfolio
from rebal_optimizer.domain.wash_sale import remembered


@dataclass(frozen=True, slots=True)
class Fill:
    """What one order of a run executed: quantity (positive) at its average price."""

    symbol: str
    side: Side
    qty: Decimal
    price: Decimal
    on: date  # its trade day


def booked(before: Portfolio, after: Portfolio, fills: Iterable[Fill], on: date) -> Portfolio:
    """`after` (the run's trades applied to `before`) with `before`'s lots moved by `fills`.
    A portfolio the run did not change (a CLIENT snapshot already showed it) is left alone."""
    if after == before:
        return after
    lots = dict(before.lots)
    losses: list[str] = []
    prices: dict[str, Decimal] = {}
    for fill in sorted(fills, key=lambda f: (f.side is Side.BUY, f.symbol)):
        qty, price = fill.qty, fill.price
        prices[fill.symbol] = price
        if fill.side is Side.BUY:
            lots[fill.symbol] = opened(lots.get(fill.symbol, ()), Lot(qty, price, fill.on))
            continue
        policy = before.settings.lot_policy
        left, takes = select_lots(lots.get(fill.symbol, ()), qty, policy, price, fill.on)
        lots[fill.symbol] = left
        if realized_gain(takes, price).total < 0:
            losses.append(fill.symbol)
    loss_sales = remembered(before.loss_sales, losses, on) if losses else before.loss_sales
    matched = reconciled(lots, after.holdings, prices, on)
    return replace(after, lots=matched, loss_sales=loss_sales)
