"""Current weights and drift from target (Alpaca's drift bands).

`absolute` drift is in percentage points; `relative` drift is percent of the target weight.
A band is met when a drift *reaches* the band's percent (`>=`, "when we reach the threshold").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, localcontext

from rebal_optimizer.domain.enums import ConditionSubType
from rebal_optimizer.domain.model_portfolio import HUNDRED, ZERO, TargetWeights
from rebal_optimizer.domain.prices import Prices

# Weights are ratios and cannot be exact; a wide precision keeps them deterministic and
# far below any band or notional that matters.
_PRECISION = 40


@dataclass(frozen=True, slots=True)
class Drift:
    symbol: str | None  # None is the cash position
    current: Decimal  # percent of total value
    target: Decimal  # percent of total value
    absolute: Decimal
    relative: Decimal

    def measure(self, sub_type: ConditionSubType) -> Decimal:
        return self.relative if sub_type is ConditionSubType.RELATIVE else self.absolute


def portfolio_value(holdings: Mapping[str, Decimal], cash: Decimal, prices: Prices) -> Decimal:
    with localcontext(prec=_PRECISION):
        return cash + sum((qty * prices[s].price for s, qty in holdings.items()), ZERO)


def current_weights(
    holdings: Mapping[str, Decimal], cash: Decimal, prices: Prices
) -> tuple[dict[str, Decimal], Decimal]:
    """(percent per held symbol, cash percent). All zero when the portfolio has no value."""
    total = portfolio_value(holdings, cash, prices)
    if total <= 0:
        return {symbol: ZERO for symbol in holdings}, ZERO
    with localcontext(prec=_PRECISION):
        assets = {s: qty * prices[s].price * HUNDRED / total for s, qty in holdings.items()}
        return assets, cash * HUNDRED / total


def _drift(symbol: str | None, current: Decimal, target: Decimal) -> Drift:
    absolute = abs(current - target)
    # Relative drift against a zero target is undefined; falling back to points keeps a dust
    # of cash (or a position dropped from the model) from breaching every relative band forever.
    relative = absolute * HUNDRED / target if target > 0 else absolute
    return Drift(symbol, current, target, absolute, relative)


def compute_drifts(
    holdings: Mapping[str, Decimal], cash: Decimal, prices: Prices, targets: TargetWeights
) -> tuple[Drift, ...]:
    """Drift of every targeted or held asset (sorted by symbol) and then of cash.

    Empty when the portfolio has no value (nothing can drift). Every held symbol needs a price.
    """
    held = {s: q for s, q in holdings.items() if q != 0}
    if portfolio_value(held, cash, prices) <= 0:
        return ()
    weights, cash_weight = current_weights(held, cash, prices)
    with localcontext(prec=_PRECISION):
        drifts = [
            _drift(symbol, weights.get(symbol, ZERO), targets.assets.get(symbol, ZERO))
            for symbol in sorted(set(weights) | set(targets.assets))
        ]
        drifts.append(_drift(None, cash_weight, targets.cash))
    return tuple(drifts)


def largest_drift(drifts: Iterable[Drift], sub_type: ConditionSubType) -> Drift | None:
    """The drift with the largest measure; ties go to the first symbol (deterministic)."""
    best: Drift | None = None
    for drift in drifts:
        if best is None or drift.measure(sub_type) > best.measure(sub_type):
            best = drift
    return best


def band_met(drift: Decimal, band: Decimal) -> bool:
    """A drift band is met when the drift reaches it."""
    return drift >= band


def is_band_breached(drifts: Iterable[Drift], sub_type: ConditionSubType, band: Decimal) -> bool:
    return any(band_met(drift.measure(sub_type), band) for drift in drifts)
