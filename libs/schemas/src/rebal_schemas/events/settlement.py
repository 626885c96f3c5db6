"""`transaction.settled` (key `portfolio_id`)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field

from rebal_schemas.enums import OrderSide
from rebal_schemas.envelope import Event
from rebal_schemas.types import EntityId, PositiveQuantity, Price, Symbol

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
    late: bool = Field(
        default=False,
        description="executed after its run had ended (TIMEOUT, CANCELED, CANCELED_MID_RUN): not in "
        "the run's run.completed, so a holder of the book applies it on its own",
    )
