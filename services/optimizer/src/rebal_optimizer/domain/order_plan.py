"""What order generation decides, as values: the orders of a run (Alpaca's run `orders[]`), the
orders skipped (its `skipped_orders[]`) and the plan that carries both with its reasons."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from rebal_optimizer.domain.allocation import ZERO
from rebal_optimizer.domain.enums import Side
from rebal_optimizer.domain.lots import LotTake, RealizedGain
from rebal_optimizer.domain.reasons import ORDER_LESS_THAN_MIN_NOTIONAL, Reason

# Every number of an order travels as a decimal string of at most 15 integer digits
# (rebal_schemas.types): a plan that would need more fails with a reason, like a missing price.
WIRE_LIMIT = Decimal(10) ** 15


@dataclass(frozen=True, slots=True)
class Order:
    leg: int  # 1-based; client_order_id = run id + leg, so it must be stable for equal input
    symbol: str
    side: Side
    qty: Decimal
    notional: Decimal
    expected_price: Decimal
    # a sale: the lots it is expected to consume and their realized gain (sale_lots.py)
    lots: tuple[LotTake, ...] = ()
    gain: RealizedGain | None = None


@dataclass(frozen=True, slots=True)
class SkippedOrder:
    """Alpaca `skipped_orders[]` item."""

    symbol: str
    side: Side
    notional: Decimal
    reason: str = ORDER_LESS_THAN_MIN_NOTIONAL
    reason_details: str = ""
    currency: str = "USD"


@dataclass(frozen=True, slots=True)
class OrderPlan:
    orders: tuple[Order, ...]
    skipped_orders: tuple[SkippedOrder, ...] = ()
    shortfall: Decimal = ZERO  # withdrawal only: what the holdings could not raise
    reasons: tuple[Reason, ...] = ()
    # Symbols of the target weights that cannot be traded: the model needs adjustment.
    non_tradable_targets: tuple[str, ...] = ()

    @property
    def failed(self) -> bool:
        return any(reason.is_failure for reason in self.reasons)

    @property
    def is_recommended(self) -> bool:
        return bool(self.orders) and not self.failed
