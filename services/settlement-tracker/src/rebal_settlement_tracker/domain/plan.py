"""The plan of a run, as optimization.ready carries it: order legs and skipped orders."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from rebal_settlement_tracker.domain.errors import InvalidEvent
from rebal_settlement_tracker.domain.transaction import ZERO, Side


@dataclass(frozen=True)
class PlannedOrder:
    """One order leg: a quantity (whole or fractional shares) or a notional amount, not both."""

    leg: int
    symbol: str
    side: Side
    qty: Decimal | None = None
    notional: Decimal | None = None
    asset_class: str = "us_equity"
    # The price the optimizer planned with (its last price): the reference of the fill price band.
    expected_price: Decimal | None = None

    def __post_init__(self) -> None:
        if self.leg < 0:
            raise InvalidEvent(f"leg must be >= 0, got {self.leg}")
        if (self.qty is None) == (self.notional is None):
            raise InvalidEvent(f"leg {self.leg}: exactly one of qty and notional is required")
        amount = self.qty if self.qty is not None else self.notional
        if amount is not None and amount <= ZERO:
            raise InvalidEvent(f"leg {self.leg}: qty/notional must be > 0, got {amount}")
        if self.expected_price is not None and self.expected_price <= ZERO:
            raise InvalidEvent(f"leg {self.leg}: expected_price must be > 0")


@dataclass(frozen=True)
class SkippedOrder:
    """An order the optimizer did not send (Alpaca ``skipped_orders[]`` item)."""

    symbol: str
    side: Side
    notional: Decimal
    reason: str = "ORDER_LESS_THAN_MIN_NOTIONAL"
    reason_details: str | None = None
