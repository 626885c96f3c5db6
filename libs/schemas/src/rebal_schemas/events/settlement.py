"""`transaction.settled` (key `portfolio_id`) and the per-leg outcome of a run."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from rebal_schemas.envelope import Event
from rebal_schemas.types import (
    EntityId,
    Money,
    OrderSide,
    PositiveQuantity,
    Price,
    Quantity,
    Symbol,
    TransactionStatus,
)

SETTLED = "transaction.settled"


class TransactionSettled(Event):
    TOPIC = SETTLED
    event_type: Literal["transaction.settled"] = "transaction.settled"
    run_id: EntityId
    portfolio_id: EntityId
    leg: int = Field(ge=0)
    symbol: Symbol
    side: OrderSide
    qty: PositiveQuantity
    avg_price: Price
    trade_date: date
    settlement_date: date


class OrderOutcome(BaseModel):
    """What became of one planned order."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    leg: int = Field(ge=0)
    symbol: Symbol
    side: OrderSide
    planned_qty: Quantity | None = None
    planned_notional: Money | None = None
    filled_qty: Quantity
    filled_avg_price: Price | None = None
    status: TransactionStatus
    reason: str = ""
