"""The HTTP shapes of Alpaca's Rebalancing API (what the OpenAPI document shows).

Requests accept what Alpaca's clients send: alpaca-py sends percents as JSON numbers, others send
decimal strings; both become exact decimals (a number through its shortest text, `33.33` stays
`33.33`) before rebal's own rules check them. Responses are what `domain.alpaca` builds; the
models below document them (unknown fields may be added, as Alpaca does).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise ValueError("expected a number or a decimal string")
    if isinstance(value, int | float):
        value = repr(value) if isinstance(value, float) else str(value)
    if not isinstance(value, str):
        raise ValueError("expected a number or a decimal string")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"not a decimal: {value[:40]!r}") from None
    if not number.is_finite():
        raise ValueError("not a finite decimal")
    return number


Number = Annotated[
    Decimal,
    BeforeValidator(_decimal),
    WithJsonSchema({"oneOf": [{"type": "number"}, {"type": "string"}]}),
]


class Incoming(BaseModel):
    model_config = ConfigDict(extra="ignore")


class WeightIn(Incoming):
    type: Literal["asset", "cash"]
    symbol: str | None = None
    percent: Number


class ConditionIn(Incoming):
    type: Literal["drift_band", "calendar"]
    sub_type: str
    percent: Number | None = None
    day: str | int | None = None


class PortfolioIn(Incoming):
    name: str = Field(min_length=1, max_length=128)
    description: str = Field("", max_length=1024)
    weights: list[WeightIn]
    cooldown_days: int = 0
    rebalance_conditions: list[ConditionIn] | None = None


class PortfolioPatch(Incoming):
    name: str | None = Field(None, min_length=1, max_length=128)
    description: str | None = Field(None, max_length=1024)
    weights: list[WeightIn] | None = None
    cooldown_days: int | None = None
    rebalance_conditions: list[ConditionIn] | None = None


class SubscriptionIn(Incoming):
    account_id: UUID
    portfolio_id: UUID
    trade_marker: str | None = Field(
        None, description="Accepted and ignored: rebal's mandate is the portfolio's setting."
    )


class RunIn(Incoming):
    account_id: UUID
    type: Literal["full_rebalance", "invest_cash"]
    amount: Number | None = None
    weights: list[WeightIn] | None = None


class Outgoing(BaseModel):
    model_config = ConfigDict(extra="allow")


class WeightOut(Outgoing):
    type: Literal["asset", "cash"]
    symbol: str | None
    percent: str


class ConditionOut(Outgoing):
    type: Literal["drift_band", "calendar"]
    sub_type: str
    percent: str | None = None
    day: str | None = None


class PortfolioOut(Outgoing):
    id: UUID
    name: str
    description: str
    status: Literal["active", "inactive", "needs_adjustment"]
    cooldown_days: int
    created_at: str
    updated_at: str
    weights: list[WeightOut]
    rebalance_conditions: list[ConditionOut]
    rebal_model_id: str = Field(description="rebal's model id")


class SubscriptionOut(Outgoing):
    id: UUID
    account_id: UUID
    portfolio_id: UUID
    created_at: str
    updated_at: str
    last_rebalanced_at: str | None
    rebal_portfolio_id: str = Field(description="rebal's portfolio (one per account)")


class SubscriptionsOut(Outgoing):
    subscriptions: list[SubscriptionOut]
    next_page_token: str | None


class OrderOut(Outgoing):
    id: UUID
    client_order_id: str
    symbol: str
    side: Literal["buy", "sell"]
    status: str
    notional: str | None
    qty: str | None
    filled_qty: str | None
    filled_avg_price: str | None
    created_at: str
    updated_at: str
    submitted_at: str
    type: Literal["market"]
    time_in_force: Literal["day"]
    transaction_status: str = Field(description="InvestSuite movement status of the order")


class SkippedOrderOut(Outgoing):
    symbol: str
    side: str
    notional: str
    currency: str
    reason: str
    reason_details: str


class RunOut(Outgoing):
    id: UUID
    type: Literal["full_rebalance", "invest_cash", "partial_liquidation"]
    amount: str | None
    initiated_from: Literal["system", "api"] | None = Field(
        description="`dashboard` is served as null (alpaca-py 0.44 does not know it), with the "
        "value in `rebal_initiated_from`"
    )
    status: str
    reason: str | None
    account_id: UUID
    portfolio_id: UUID = Field(description="the model followed; the nil UUID for own weights")
    weights: list[WeightOut]
    created_at: str
    updated_at: str
    completed_at: str | None
    canceled_at: str | None
    orders: list[OrderOut] = []
    failed_orders: list[OrderOut] = []
    skipped_orders: list[SkippedOrderOut] = []
    rebal_run_id: str | None = Field(description="rebal's run (optimization) id, once it exists")


class RunsOut(Outgoing):
    runs: list[RunOut]
    next_page_token: str | None


class ErrorOut(BaseModel):
    code: int = Field(description="the HTTP status followed by five digits, e.g. 42210000")
    message: str
