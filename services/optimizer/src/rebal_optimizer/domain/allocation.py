"""Decimal allocation arithmetic behind order generation.

Every rounding goes in the safe direction for its purpose: buys never spend more than their
budget, sells never exceed the holding, and withdrawal sells round up (capped at the holding)
because there the safe direction is raising at least the amount asked for.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_DOWN, Context, Decimal

ZERO = Decimal(0)
ONE_SHARE = Decimal(1)
QTY_STEP = Decimal("0.000000001")  # Alpaca accepts quantities with up to 9 decimals
CENT = Decimal("0.01")
PRECISION = 60  # wide enough that qty x price and every sum of them stay exact

_FLOOR = Context(prec=PRECISION, rounding=ROUND_FLOOR)
_CEIL = Context(prec=PRECISION, rounding=ROUND_CEILING)


def floor_qty(value: Decimal, price: Decimal, whole: bool) -> Decimal:
    """The largest tradable quantity whose cost does not exceed `value`."""
    return _FLOOR.quantize(_FLOOR.divide(value, price), ONE_SHARE if whole else QTY_STEP)


def ceil_qty(value: Decimal, price: Decimal, whole: bool) -> Decimal:
    """The smallest tradable quantity worth at least `value`."""
    return _CEIL.quantize(_CEIL.divide(value, price), ONE_SHARE if whole else QTY_STEP)


def floor_cents(amount: Decimal) -> Decimal:
    return _FLOOR.quantize(amount, CENT)


def ceil_cents(amount: Decimal) -> Decimal:
    return _CEIL.quantize(amount, CENT)


def water_fill(gaps: Mapping[str, Decimal], amount: Decimal, *, cover: bool) -> dict[str, Decimal]:
    """Hand `amount` to the largest gaps first by lowering all of them to one common level.

    Returns the share of each gap (never more than the gap). With `cover=False` the shares sum
    to at most `amount` (buys: never overspend); with `cover=True` to at least `amount` when
    the gaps allow (withdrawal sells: raise enough).
    """
    ranked = sorted(
        ((gap, symbol) for symbol, gap in gaps.items() if gap > 0),
        key=lambda item: (-item[0], item[1]),
    )
    if amount <= 0 or not ranked:
        return {}
    if sum((gap for gap, _ in ranked), ZERO) <= amount:
        return {symbol: gap for gap, symbol in ranked}
    context = _FLOOR if cover else _CEIL
    prefix = ZERO
    level = ZERO
    for count, (gap, _) in enumerate(ranked, start=1):
        prefix += gap
        level = context.divide(prefix - amount, count)
        next_gap = ranked[count][0] if count < len(ranked) else ZERO
        if level >= next_gap:
            break
    return {symbol: gap - level for gap, symbol in ranked if gap > level}


def allocate_buys(
    deficits: Mapping[str, Decimal],
    budget: Decimal,
    prices: Mapping[str, Decimal],
    whole: frozenset[str],
) -> dict[str, Decimal]:
    """Buy quantities that close the largest deficits first without spending more than `budget`.

    Whole-share symbols are floored first; the cash that flooring leaves over then goes greedily
    to the most underweight assets (PyPortfolioOpt's greedy_portfolio idea), one purchase at a
    time, and only where a share lands closer to target than staying short.
    """
    quantities = {
        symbol: floor_qty(value, prices[symbol], symbol in whole)
        for symbol, value in water_fill(deficits, budget, cover=False).items()
    }
    if whole.isdisjoint(deficits):
        # All fractional: the water-fill already spent the budget; what is left is rounding dust
        # below one quantity step.
        return {symbol: qty for symbol, qty in quantities.items() if qty > 0}
    leftover = budget - sum((q * prices[s] for s, q in quantities.items()), ZERO)
    # Each symbol buys at most once here (afterwards its remaining deficit or the leftover is
    # below one step of it), so len(deficits) rounds suffice; the bound makes that explicit.
    for _ in range(len(deficits)):
        if leftover <= 0:
            break
        bought = _buy_most_underweight(deficits, quantities, leftover, prices, whole)
        if bought is None:
            break
        symbol, qty = bought
        quantities[symbol] = quantities.get(symbol, ZERO) + qty
        leftover -= qty * prices[symbol]
    return {symbol: qty for symbol, qty in quantities.items() if qty > 0}


def _buy_most_underweight(
    deficits: Mapping[str, Decimal],
    quantities: Mapping[str, Decimal],
    leftover: Decimal,
    prices: Mapping[str, Decimal],
    whole: frozenset[str],
) -> tuple[str, Decimal] | None:
    remaining = sorted(
        ((deficit - quantities.get(s, ZERO) * prices[s], s) for s, deficit in deficits.items()),
        key=lambda item: (-item[0], item[1]),
    )
    for short, symbol in remaining:
        if short <= 0:
            return None
        price = prices[symbol]
        if symbol in whole:
            nearest = _FLOOR.divide(short, price).quantize(ONE_SHARE, rounding=ROUND_HALF_DOWN)
            qty = min(floor_qty(leftover, price, True), nearest)
        else:
            qty = floor_qty(min(short, leftover), price, False)
        if qty > 0:
            return symbol, qty
    return None


def withdrawal_sells(
    excess: Mapping[str, Decimal],
    values: Mapping[str, Decimal],
    held: Mapping[str, Decimal],
    prices: Mapping[str, Decimal],
    whole: frozenset[str],
    need: Decimal,
    min_notional: Decimal,
) -> dict[str, Decimal]:
    """Sell quantities raising at least `need` where holdings allow: overweight assets first
    (largest excess first), then the rest proportionally to what is left of each holding."""
    if need <= 0:
        return {}
    wanted = water_fill(excess, need, cover=True)
    rest = need - sum(wanted.values(), ZERO)
    if rest > 0:
        left = {s: values[s] - wanted.get(s, ZERO) for s in sorted(values)}
        left_total = sum(left.values(), ZERO)
        if left_total > 0:
            for symbol, value in left.items():
                share = _CEIL.divide(_CEIL.multiply(rest, value), left_total)
                wanted[symbol] = wanted.get(symbol, ZERO) + share
    quantities: dict[str, Decimal] = {}
    for symbol, value in sorted(wanted.items()):
        target = ceil_cents(value)
        if target >= min_notional and target > 0:  # a smaller order would be skipped anyway
            quantities[symbol] = min(
                ceil_qty(target, prices[symbol], symbol in whole), held[symbol]
            )
    _top_up(quantities, held, prices, whole, need, min_notional)
    return quantities


def sell_notional(qty: Decimal, price: Decimal) -> Decimal:
    return floor_cents(qty * price)


def _raised(
    quantities: Mapping[str, Decimal], prices: Mapping[str, Decimal], min_notional: Decimal
) -> Decimal:
    notionals = (sell_notional(q, prices[s]) for s, q in quantities.items())
    return sum((n for n in notionals if n >= min_notional and n > 0), ZERO)


def _top_up(
    quantities: dict[str, Decimal],
    held: Mapping[str, Decimal],
    prices: Mapping[str, Decimal],
    whole: frozenset[str],
    need: Decimal,
    min_notional: Decimal,
) -> None:
    """Close what rounding and the minimum notional left short, from the largest unsold
    holdings. Each round either covers `need` or sells one holding in full."""
    exhausted: set[str] = set()
    for _ in range(len(held)):  # each round covers `need` or exhausts one holding
        raised = _raised(quantities, prices, min_notional)
        if raised >= need:
            return
        candidates = _unsold_by_value(held, quantities, prices, exhausted)
        if not candidates:
            return
        symbol = candidates[0]
        counted = sell_notional(quantities.get(symbol, ZERO), prices[symbol])
        counted = counted if counted >= min_notional else ZERO
        target = max(ceil_cents(counted + need - raised), min_notional)
        qty = min(ceil_qty(target, prices[symbol], symbol in whole), held[symbol])
        qty = max(qty, quantities.get(symbol, ZERO))
        quantities[symbol] = qty
        if qty >= held[symbol]:
            exhausted.add(symbol)


def _unsold_by_value(
    held: Mapping[str, Decimal],
    quantities: Mapping[str, Decimal],
    prices: Mapping[str, Decimal],
    exhausted: Iterable[str],
) -> list[str]:
    skip = set(exhausted)
    unsold = [
        ((held[s] - quantities.get(s, ZERO)) * prices[s], s)
        for s in held
        if s not in skip and held[s] > quantities.get(s, ZERO)
    ]
    unsold.sort(key=lambda item: (-item[0], item[1]))
    return [symbol for _, symbol in unsold]
