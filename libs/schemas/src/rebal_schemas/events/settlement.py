"""`transaction.settled` and `run.completed` (key `portfolio_id`)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from rebal_schemas.envelope import Event
from rebal_schemas.events.orders import SkippedOrder
from rebal_schemas.types import (
    BrokerIntegration,
    EntityId,
    Money,
    OrderSide,
    PositiveQuantity,
    Price,
    Quantity,
    RunStatus,
    RunType,
    SignedMoney,
    SignedQuantity,
    Symbol,
    TransactionStatus,
)

SETTLED = "transaction.settled"
COMPLETED = "run.completed"


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


class RunCompleted(Event):
    """Every transaction of a ready optimization reached its final state. Published once per run."""

    TOPIC = COMPLETED
    event_type: Literal["run.completed"] = "run.completed"
    run_id: EntityId
    optimization_id: EntityId
    portfolio_id: EntityId
    account_id: EntityId
    run_type: RunType
    broker_integration: BrokerIntegration
    status: RunStatus
    orders: tuple[OrderOutcome, ...]
    skipped_orders: tuple[SkippedOrder, ...] = ()
    cash_delta: SignedMoney = Field(description="signed: sells add, buys subtract")
    holdings_delta: dict[Symbol, SignedQuantity] = Field(default_factory=dict)
    last_execution_at: AwareDatetime | None = None
    completed_at: AwareDatetime
