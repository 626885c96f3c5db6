"""What trading costs a portfolio: commission per order and the bid-ask spread per symbol
(a setting; cost_gate.py weighs it against the drift a rebalance removes)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, localcontext

BPS = Decimal(10_000)
_ZERO = Decimal(0)
_PRECISION = 40


@dataclass(frozen=True, slots=True)
class CostModel:
    """Commission per order (USD) and the spread in basis points, per symbol with a default."""

    commission_per_order: Decimal = _ZERO
    spread_bps: Decimal = _ZERO
    spread_bps_by_symbol: tuple[tuple[str, Decimal], ...] = ()

    def spread_of(self, symbol: str) -> Decimal:
        return dict(self.spread_bps_by_symbol).get(symbol, self.spread_bps)

    def order_cost(self, symbol: str, notional: Decimal) -> Decimal:
        """Commission plus half the spread on the notional: an order crosses half of it."""
        with localcontext(prec=_PRECISION):
            return self.commission_per_order + notional * self.spread_of(symbol) / 2 / BPS
