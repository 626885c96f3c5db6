"""Which lots a sale consumes: the portfolio's `lot_policy`.

- `fifo` (default): oldest first.
- `hifo`: highest cost per share first (the smallest gain or largest loss per share).
- `tax_min`: losses first, largest loss per share first; then long-term gains (held more than a
  year), smallest gain per share first; short-term gains last, smallest first. Short-term gains
  are taxed as income, long-term ones at a lower rate, and a loss offsets either.

Ties keep the older lot first, so equal input always selects the same lots.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from rebal_optimizer.domain.lots import Lot, LotTake, is_long_term, take_in_order
from rebal_optimizer.domain.tax_policy import LotPolicy


def lot_order(lots: tuple[Lot, ...], policy: LotPolicy, price: Decimal, sold_on: date) -> list[int]:
    """The indexes of `lots` in the order a sale at `price` on `sold_on` consumes them."""
    indexes = range(len(lots))
    if policy is LotPolicy.FIFO:
        return sorted(indexes, key=lambda i: (lots[i].acquired_on, i))
    if policy is LotPolicy.HIFO:
        return sorted(indexes, key=lambda i: (-lots[i].cost_per_share, lots[i].acquired_on, i))

    def tax_rank(i: int) -> tuple[int, Decimal, date, int]:
        lot = lots[i]
        gain = price - lot.cost_per_share
        if gain < 0:
            return (0, gain, lot.acquired_on, i)  # the most negative first
        group = 1 if is_long_term(lot.acquired_on, sold_on) else 2
        return (group, gain, lot.acquired_on, i)

    return sorted(indexes, key=tax_rank)


def select_lots(
    lots: tuple[Lot, ...], qty: Decimal, policy: LotPolicy, price: Decimal, sold_on: date
) -> tuple[tuple[Lot, ...], tuple[LotTake, ...]]:
    """What is left of `lots` and what a sale of `qty` at `price` on `sold_on` consumes."""
    return take_in_order(lots, lot_order(lots, LotPolicy(policy), price, sold_on), qty, sold_on)
