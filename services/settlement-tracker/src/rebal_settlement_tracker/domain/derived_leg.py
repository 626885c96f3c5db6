"""A leg's transaction kept with the facts it was derived from (`Run._derive` reuses it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from rebal_settlement_tracker.domain.plan import PlannedOrder
from rebal_settlement_tracker.domain.stop import RunStop
from rebal_settlement_tracker.domain.transaction import OrderClosed, OrderFilled, Transaction


@dataclass(frozen=True, slots=True)
class DerivedLeg:
    order: PlannedOrder
    fill: OrderFilled | None
    close: OrderClosed | None
    stop: RunStop | None
    settled_on: date | None
    transaction: Transaction
