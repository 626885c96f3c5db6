"""Realized gains of a run, as run.completed reports them: each sale's estimated gain, planned
by the optimizer from the lots it expected to consume at its expected price, scaled to the
quantity that filled. The tracker knows neither lots nor costs; the estimate is the optimizer's,
the fill's share of it is the tracker's."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Gains:
    short_term: Decimal
    long_term: Decimal

    def plus(self, other: Gains) -> Gains:
        return Gains(self.short_term + other.short_term, self.long_term + other.long_term)


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def filled_share(planned: Gains, planned_qty: Decimal | None, filled_qty: Decimal) -> Gains:
    """`planned` for the whole planned quantity, scaled to `filled_qty` (all of it when the
    planned quantity is unknown or filled in full)."""
    if planned_qty is None or planned_qty <= 0 or filled_qty >= planned_qty:
        return planned
    share = filled_qty / planned_qty
    return Gains(_cents(planned.short_term * share), _cents(planned.long_term * share))


def run_gains(per_order: Iterable[Gains | None]) -> Gains | None:
    """The sum over the orders that carry gains; None when none does."""
    total: Gains | None = None
    for gains in per_order:
        if gains is not None:
            total = gains if total is None else total.plus(gains)
    return total


def order_gains(
    planned: Mapping[int, tuple[Gains, Decimal | None]], leg: int, filled_qty: Decimal
) -> Gains | None:
    """The gain of leg `leg` that filled `filled_qty`; None for a leg planned without one."""
    known = planned.get(leg)
    if known is None or filled_qty <= 0:
        return None
    return filled_share(known[0], known[1], filled_qty)
