"""Order shapes shared by optimization, execution and run events (Alpaca field names)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from rebal_schemas.enums import OrderSide
from rebal_schemas.types import Money, PositiveMoney, PositiveQuantity, Price, Symbol


class PlannedOrder(BaseModel):
    """One leg of an optimization: a market `day` order by `qty` or by `notional`."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    leg: int = Field(ge=0, description="position in the run; sells come before buys")
    symbol: Symbol
    side: OrderSide
    qty: PositiveQuantity | None = None
    notional: PositiveMoney | None = None
    expected_price: Price | None = None
    asset_class: Literal["us_equity"] = "us_equity"

    @model_validator(mode="after")
    def _qty_or_notional(self) -> PlannedOrder:
        if (self.qty is None) == (self.notional is None):
            raise ValueError("an order has exactly one of qty and notional")
        return self


class SkippedOrder(BaseModel):
    """Alpaca's `skipped_orders[]` item."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    symbol: Symbol
    side: OrderSide
    notional: Money
    currency: Literal["USD"] = "USD"
    reason: str
    reason_details: str = ""


class ProposedOrder(BaseModel):
    """An order proposed by an external optimizer; validated against holdings and cash."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    symbol: Symbol
    side: OrderSide
    qty: PositiveQuantity | None = None
    notional: PositiveMoney | None = None

    @model_validator(mode="after")
    def _qty_or_notional(self) -> ProposedOrder:
        if (self.qty is None) == (self.notional is None):
            raise ValueError("an order has exactly one of qty and notional")
        return self
