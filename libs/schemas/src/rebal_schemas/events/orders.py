"""Order shapes shared by optimization, execution and run events (Alpaca field names)."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from rebal_schemas.enums import OrderSide
from rebal_schemas.types import (
    Money,
    PositiveMoney,
    PositiveQuantity,
    Price,
    SignedMoney,
    Symbol,
)

MAX_ORDER_LOTS = 100
"""Lots one planned sale lists; a sale consuming more lists none (its gain is still given)."""
MAX_RUN_LOTS = 1000
"""Lots all the sales of one optimization list together, so it stays far below 1 MB."""


def without_absent(data: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """`data` without the optional fields in `names` that are empty or null: a payload that does
    not use them is byte for byte what it was before they existed."""
    for name in names:
        if data.get(name) in (None, [], ()):
            data.pop(name, None)
    return data


class TaxLot(BaseModel):
    """A tax lot: a quantity bought at one cost per share on one day."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    qty: PositiveQuantity
    cost_per_share: Price
    acquired_on: date


class ConsumedLot(TaxLot):
    """The part of a lot a sale consumes, and whether its gain is long-term (held > 365 days)."""

    long_term: bool = False
    estimated: bool = Field(
        default=False, description="an average cost (a holdings snapshot without lots)"
    )


class RealizedGains(BaseModel):
    """Realized gain (negative: a loss), short- and long-term, in USD."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    short_term: SignedMoney
    long_term: SignedMoney


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
    lots: tuple[ConsumedLot, ...] = Field(
        default=(),
        max_length=MAX_ORDER_LOTS,
        description="a sale: the tax lots it is expected to consume (the portfolio's lot policy)",
    )
    estimated_gain: RealizedGains | None = Field(
        default=None, description="a sale: its estimated realized gain at the expected price"
    )

    @model_serializer(mode="wrap")
    def _lots_only_when_given(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        return without_absent(data, ("lots", "estimated_gain"))

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
