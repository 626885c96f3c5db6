"""`order.filled` and `order.closed` (key `portfolio_id`); quantities are cumulative."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import AwareDatetime, Field

from rebal_schemas.enums import CloseReason, OrderSide
from rebal_schemas.envelope import Event
from rebal_schemas.types import EntityId, PositiveQuantity, Price, Quantity, Symbol

FILLED = "order.filled"
CLOSED = "order.closed"


class OrderEvent(Event):
    run_id: EntityId = Field(description="the optimization id of the run")
    portfolio_id: EntityId
    leg: int = Field(ge=0)
    client_order_id: EntityId
    broker_order_id: EntityId | None = None
    symbol: Symbol
    side: OrderSide


class OrderFilled(OrderEvent):
    """An execution. `filled_qty` is cumulative, so replays and reordering change nothing."""

    TOPIC = FILLED
    event_type: Literal["order.filled"] = "order.filled"
    filled_qty: PositiveQuantity
    filled_avg_price: Price
    trade_date: date
    filled_at: AwareDatetime
    status: Literal["partially_filled", "filled"] = "filled"


class OrderClosed(OrderEvent):
    """The order ended without a (full) fill; `filled_qty` is what had executed by then."""

    TOPIC = CLOSED
    event_type: Literal["order.closed"] = "order.closed"
    status: CloseReason
    filled_qty: Quantity = Decimal(0)
    filled_avg_price: Price | None = None
    reason: str = ""
    closed_at: AwareDatetime
    run_canceled: bool = Field(
        default=False,
        description="closed because its run was canceled: the run's end is the order-router's "
        "run.execution_stopped (committed with it), not this close",
    )
