"""Merging of facts about one leg, so that arrival order does not matter.

Each merge is a join: commutative, associative and idempotent. Applying any permutation of the
same facts, duplicates included, therefore ends with the same merged fact.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from rebal_settlement_tracker.domain.transaction import OrderClosed, OrderFilled


def merge_fill(known: OrderFilled | None, new: OrderFilled) -> OrderFilled:
    """The fill with the greatest cumulative quantity wins.

    Two reports of the same quantity should be identical; if they are not (a corrected price),
    a fixed tie-break picks one so the result still does not depend on arrival order, and the
    "fully filled" flag is kept when either report carries it.
    """
    if known is None:
        return new
    if new.cum_qty != known.cum_qty:
        return new if new.cum_qty > known.cum_qty else known
    winner = max(known, new, key=_fill_tiebreak)
    return replace(winner, fully_filled=known.fully_filled or new.fully_filled)


def _fill_tiebreak(fill: OrderFilled) -> tuple[object, ...]:
    return (fill.executed_at, fill.trade_date, fill.avg_price, fill.fully_filled)


def merge_close(known: OrderClosed | None, new: OrderClosed) -> OrderClosed:
    """An order closes once; of conflicting reports the one with the most filled wins."""
    if known is None:
        return new
    return max(known, new, key=_close_key)


def _close_key(close: OrderClosed) -> tuple[Decimal, object, str]:
    return (close.cum_qty, close.closed_at, close.reason.value)
