"""Merging of facts about one leg, so that arrival order does not matter, and whether a new
fact may still change a leg.

Each merge is a join: commutative, associative and idempotent. Applying any permutation of the
same facts, duplicates included, therefore ends with the same merged fact (the order ids a fact
carries are joined alongside; they are not part of its identity).
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from rebal_settlement_tracker.domain.errors import IllegalTransition, RunAlreadyCompleted
from rebal_settlement_tracker.domain.order_ref import OrderRef
from rebal_settlement_tracker.domain.transaction import OrderClosed, OrderFilled, Transaction


def merge_fill(known: OrderFilled | None, new: OrderFilled) -> OrderFilled:
    """The fill with the greatest cumulative quantity wins.

    Two reports of the same quantity should be identical; if they are not (a corrected price),
    a fixed tie-break picks one so the result still does not depend on arrival order, and the
    "fully filled" flag is kept when either report carries it.
    """
    if known is None:
        return new
    if new.cum_qty != known.cum_qty:
        winner = new if new.cum_qty > known.cum_qty else known
    else:
        winner = max(known, new, key=_fill_tiebreak)
        winner = replace(winner, fully_filled=known.fully_filled or new.fully_filled)
    return replace(winner, ref=_join(known.ref, new.ref))


def _fill_tiebreak(fill: OrderFilled) -> tuple[object, ...]:
    return (fill.executed_at, fill.trade_date, fill.avg_price, fill.fully_filled)


def merge_close(known: OrderClosed | None, new: OrderClosed) -> OrderClosed:
    """An order closes once; of conflicting reports the one with the most filled wins. Either
    report saying the run's cancel closed it is enough: that is what the run must wait on."""
    if known is None:
        return new
    return replace(
        max(known, new, key=_close_key),
        ref=_join(known.ref, new.ref),
        run_canceled=known.run_canceled or new.run_canceled,
    )


def _join(a: OrderRef | None, b: OrderRef | None) -> OrderRef | None:
    """The order's ids from both reports (which ids a merged fact carries is no part of it)."""
    return a.join(b) if a is not None else b


def _close_key(close: OrderClosed) -> tuple[Decimal, object, str]:
    return (close.cum_qty, close.closed_at, close.reason.value)


def reported_view(tx: Transaction) -> tuple[object, ...]:
    """What transaction.settled and run.completed publish about a transaction."""
    return (tx.status, tx.filled_qty, tx.avg_price, tx.trade_date, tx.close_reason, tx.settled_on)


def check_leg_change(
    what: str, before: Transaction, after: Transaction, *, completed: bool
) -> None:
    """A new fact may change a leg unless the change alters what was reported on it: the run's
    run.completed (RunAlreadyCompleted) or the leg's transaction.settled (IllegalTransition)."""
    if reported_view(before) == reported_view(after):
        return
    if completed:
        raise RunAlreadyCompleted(f"{what}: the run already completed and the leg would change")
    if before.settled_on is not None:
        raise IllegalTransition(f"{what} already settled")
