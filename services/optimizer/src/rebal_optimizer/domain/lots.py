"""Tax lots: what each share of a holding cost and when it was bought.

A portfolio keeps, per symbol, the lots it knows (`Portfolio.lots`). They come from fills (a buy
opens a lot at its fill price on its trade day; a sale consumes lots in the order of the
portfolio's lot policy, lot_selection.py) and from holdings snapshots (the client's own lots, or
one lot at an average cost flagged `estimated` when the snapshot has none).

Holdings can also change without lots (a holdings delta, a late fill, a run.settled read before
run.completed). `reconciled` brings the lots back to the holdings whenever they are used or
stored with a price at hand: a shortfall becomes one estimated lot (at the known average cost,
else the price), a surplus is trimmed oldest first; so the lots' quantity always equals the
holding wherever the lots are read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Context, Decimal, localcontext

from rebal_optimizer.domain.model_portfolio import ZERO

CENT = Decimal("0.01")
COST_STEP = Decimal("0.000000001")  # a cost per share has a price's 9 places
_WIDE = Context(prec=60)  # qty x cost of any lot the wire admits, exactly
LONG_TERM_AFTER_DAYS = 365  # a lot held longer than this realizes a long-term gain


@dataclass(frozen=True, slots=True)
class Lot:
    qty: Decimal  # > 0
    cost_per_share: Decimal
    acquired_on: date
    estimated: bool = False  # an average cost, not the lot's own (a snapshot without lots)

    def with_qty(self, qty: Decimal) -> Lot:
        return Lot(qty, self.cost_per_share, self.acquired_on, self.estimated)


Lots = Mapping[str, tuple[Lot, ...]]


@dataclass(frozen=True, slots=True)
class LotTake:
    """The part of one lot a sale consumes."""

    qty: Decimal
    cost_per_share: Decimal
    acquired_on: date
    long_term: bool
    estimated: bool = False

    def gain(self, price: Decimal) -> Decimal:
        return self.qty * (price - self.cost_per_share)


@dataclass(frozen=True, slots=True)
class RealizedGain:
    """Realized gain of a sale (negative: a loss), split by holding period, in cents."""

    short_term: Decimal = ZERO
    long_term: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.short_term + self.long_term

    def plus(self, other: RealizedGain) -> RealizedGain:
        return RealizedGain(self.short_term + other.short_term, self.long_term + other.long_term)


def is_long_term(acquired_on: date, sold_on: date) -> bool:
    return (sold_on - acquired_on).days > LONG_TERM_AFTER_DAYS


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def realized_gain(takes: Iterable[LotTake], price: Decimal) -> RealizedGain:
    """Proceeds minus the consumed lots' cost, per holding period, rounded to cents."""
    short = long = ZERO
    with localcontext(_WIDE):
        for take in takes:
            if take.long_term:
                long += take.gain(price)
            else:
                short += take.gain(price)
        return RealizedGain(cents(short), cents(long))


def total_qty(lots: Iterable[Lot]) -> Decimal:
    return sum((lot.qty for lot in lots), ZERO)


def average_cost(lots: Iterable[Lot]) -> Decimal | None:
    """The quantity-weighted cost per share, to a price's 9 places; None without lots."""
    lots = tuple(lots)
    qty = total_qty(lots)
    if qty <= 0:
        return None
    with localcontext(_WIDE):
        cost = sum((lot.qty * lot.cost_per_share for lot in lots), ZERO) / qty
        return max(COST_STEP, cost.quantize(COST_STEP, rounding=ROUND_HALF_UP))


def take_in_order(
    lots: tuple[Lot, ...], order: Iterable[int], qty: Decimal, sold_on: date
) -> tuple[tuple[Lot, ...], tuple[LotTake, ...]]:
    """Consume `qty` from `lots`, visiting them by index in `order`. Returns what is left (in the
    lots' own order) and what was taken. A sale beyond the lots takes only what they hold."""
    left = list(lots)
    takes: list[LotTake] = []
    need = qty
    for index in order:
        if need <= 0:
            break
        lot = left[index]
        taken = min(lot.qty, need)
        need -= taken
        long = is_long_term(lot.acquired_on, sold_on)
        takes.append(LotTake(taken, lot.cost_per_share, lot.acquired_on, long, lot.estimated))
        left[index] = lot.with_qty(lot.qty - taken)
    return tuple(lot for lot in left if lot.qty > 0), tuple(takes)


def opened(lots: tuple[Lot, ...], lot: Lot) -> tuple[Lot, ...]:
    """A bought lot joins the symbol's lots; one bought the same day at the same cost merges."""
    if lot.qty <= 0:
        return lots
    for index, known in enumerate(lots):
        same = known.acquired_on == lot.acquired_on and known.cost_per_share == lot.cost_per_share
        if same and known.estimated == lot.estimated:
            merged = known.with_qty(known.qty + lot.qty)
            return (*lots[:index], merged, *lots[index + 1 :])
    return (*lots, lot)


def reconciled(
    lots: Lots,
    holdings: Mapping[str, Decimal],
    prices: Mapping[str, Decimal],
    on: date,
) -> dict[str, tuple[Lot, ...]]:
    """The lots made to match `holdings`: a symbol no longer held has none; a holding larger than
    its lots gets one estimated lot for the difference, acquired `on`, at the known average cost
    (else `prices`; a symbol with neither keeps what it has until a price is known); a holding
    smaller than its lots is trimmed oldest first (a sale the lots did not see)."""
    result: dict[str, tuple[Lot, ...]] = {}
    for symbol, held in holdings.items():
        if held <= 0:
            continue
        known = lots.get(symbol, ())
        have = total_qty(known)
        if have > held:
            known, _ = take_in_order(known, _oldest_first(known), have - held, on)
        elif have < held:
            cost = average_cost(known)
            cost = cost if cost is not None else prices.get(symbol)
            if cost is not None:
                known = opened(known, Lot(held - have, cost, on, estimated=True))
        if known:
            result[symbol] = known
    return result


def _oldest_first(lots: tuple[Lot, ...]) -> list[int]:
    return sorted(range(len(lots)), key=lambda i: (lots[i].acquired_on, i))


def from_snapshot(
    holdings: Mapping[str, Decimal],
    reported: Lots | None,
    known: Lots,
    prices: Mapping[str, Decimal],
    on: date,
) -> dict[str, tuple[Lot, ...]]:
    """The lots after a holdings snapshot: the client's own where it reports them; a symbol
    whose quantity did not change keeps its lots; any other becomes one lot at an average cost
    (the known lots', else the last price), flagged estimated, acquired on the earliest known
    lot's day (else the snapshot's)."""
    result: dict[str, tuple[Lot, ...]] = {}
    for symbol, held in holdings.items():
        if held <= 0:
            continue
        own = (reported or {}).get(symbol)
        if own:
            result[symbol] = tuple(lot for lot in own if lot.qty > 0)
            continue
        before = known.get(symbol, ())
        if total_qty(before) == held:
            result[symbol] = before
            continue
        cost = average_cost(before)
        cost = cost if cost is not None else prices.get(symbol)
        if cost is None:
            continue  # no cost known at all: reconciled once a price is
        since = min((lot.acquired_on for lot in before), default=on)
        result[symbol] = (Lot(held, cost, since, estimated=True),)
    return result
