"""Band-edge rebalancing: trade only the positions that breach their drift band, back inside it
to the edge plus an inner margin, with cash flows used first (pure, all Decimal, money units).

Alpaca rebalances a triggered portfolio all the way back to target. Rebalancing to the band's
edge moves much less (a position that drifted 6 points beyond a 5-point band trades about 2
points, not 6) and keeps every position inside its band. The rules, each moving a position
toward its target and never past it, so no position's drift ever grows:

1. A position at or beyond `target + width` is sold to `target + width - margin`; one at or
   below `target - width` is bought up to `target - width + margin` (`margin` = the setting's
   share of the band: landing exactly on the edge would still *reach* the band, which counts
   as a breach). A held position outside the targets that breaches is sold in full.
2. The cash for those buys comes first from cash above its target (a deposit is a cash flow),
   then from the sells of rule 1, then, only if still short, from what is still over target
   (positions inside their band, and what rule 1 left above target; largest first, never
   below target). Cash
   inside its band is not topped up to its target; cash below its band is raised back inside.
3. Whatever budget remains after the breaching buys goes to the other underweight positions
   toward their targets (largest gap first), so sale proceeds and deposits are invested, not
   left in cash.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from rebal_optimizer.domain.allocation import ZERO, water_fill
from rebal_optimizer.domain.enums import ConditionSubType
from rebal_optimizer.domain.model_portfolio import HUNDRED, RebalanceCondition

DEFAULT_MARGIN_PERCENT = Decimal(20)
"""How far inside the band a breaching position lands, in percent of the band's width."""


def band_width(target_percent: Decimal, bands: tuple[RebalanceCondition, ...]) -> Decimal | None:
    """The tightest half-width (percentage points) of the drift bands around `target_percent`:
    an absolute band is its percent; a relative band its percent of the target (of 1 point per
    percent for a zero target, as drift measures it). None: no drift band."""
    widths = []
    for band in bands:
        if band.percent is None:
            continue
        if band.sub_type is ConditionSubType.RELATIVE and target_percent > 0:
            widths.append(band.percent * target_percent / HUNDRED)
        else:
            widths.append(band.percent)
    return min(widths) if widths else None


@dataclass(frozen=True, slots=True)
class EdgeTrades:
    """Money to sell and to buy per symbol (before rounding to tradable quantities)."""

    sells: dict[str, Decimal]
    buys: dict[str, Decimal]
    breaching: tuple[str, ...]  # the symbols rule 1 traded, sorted
    cash_floor: Decimal  # the least cash the buys leave


def band_edge_trades(
    values: Mapping[str, Decimal],
    target_values: Mapping[str, Decimal],
    widths: Mapping[str, Decimal],
    cash: Decimal,
    cash_target: Decimal,
    cash_width: Decimal,
    margin_percent: Decimal = DEFAULT_MARGIN_PERCENT,
) -> EdgeTrades:
    """`values` / `target_values`: money per symbol (0 target = outside the targets); `widths`:
    each symbol's band half-width in money; `cash_width` the cash position's."""
    ratio = margin_percent / HUNDRED
    sells: dict[str, Decimal] = {}
    needs: dict[str, Decimal] = {}
    over: dict[str, Decimal] = {}  # what each position could still sell before its target
    for symbol in sorted(set(values) | set(target_values)):
        value, target = values.get(symbol, ZERO), target_values.get(symbol, ZERO)
        width = widths[symbol]
        inner = _landing(width, ratio)
        gap = value - target
        if gap >= width and gap > 0:
            sells[symbol] = value if target == 0 else gap - inner
            over[symbol] = ZERO if target == 0 else inner
        elif -gap >= width and gap < 0:
            needs[symbol] = -gap - inner
        elif gap > 0:
            over[symbol] = gap
    breaching = tuple(sorted({*needs, *sells}))
    floor = _cash_floor(cash, cash_target, cash_width, ratio)
    budget = cash + sum(sells.values(), ZERO) - floor
    short = sum(needs.values(), ZERO) - budget
    if short > 0:
        for symbol, extra in water_fill(over, short, cover=True).items():
            sells[symbol] = sells.get(symbol, ZERO) + extra
            budget += extra
    buys = water_fill(needs, max(budget, ZERO), cover=False)
    left = budget - sum(buys.values(), ZERO)
    rest = {
        s: target_values.get(s, ZERO) - values.get(s, ZERO) - buys.get(s, ZERO)
        for s in target_values
        if s not in sells
    }
    for symbol, more in water_fill(rest, max(left, ZERO), cover=False).items():
        buys[symbol] = buys.get(symbol, ZERO) + more
    return EdgeTrades(sells, buys, breaching, floor)


def _cash_floor(cash: Decimal, target: Decimal, width: Decimal, ratio: Decimal) -> Decimal:
    """The least cash to keep: its target when above it (the excess is a flow to invest), what
    it is when inside its band below target, back inside the band when below it."""
    if cash >= target:
        return target
    if target - cash < width:
        return cash
    return target - _landing(width, ratio)


def _landing(width: Decimal, ratio: Decimal) -> Decimal:
    """How far from target a breaching position lands: inside its band by `ratio` of it."""
    return width - width * ratio
