"""Runs as Alpaca publishes them (key `portfolio_id`).

`run.status_changed` carries `run.created` and `run.status_changed`: the Alpaca run object without
order lists, as on Alpaca's rebalancer event stream. `run.completed` is the whole run object once
every *order* is final; `run.settled` follows once every *transaction* is final. `run.cancel_requested`
is a client's (or the api's) request to cancel a run.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal, TypeAlias

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
)

from rebal_schemas.enums import (
    BrokerIntegration,
    OrderSide,
    OrderStatus,
    PortfolioRunType,
    RunInitiator,
    RunStatus,
    TransactionStatus,
)
from rebal_schemas.envelope import Event
from rebal_schemas.events.orders import RealizedGains, SkippedOrder, without_absent
from rebal_schemas.model_portfolio import Weights
from rebal_schemas.types import (
    MAX_POSITIONS,
    EntityId,
    PositiveMoney,
    Price,
    Quantity,
    SignedMoney,
    SignedQuantity,
    Symbol,
)

STATUS_CHANGED = "run.status_changed"
COMPLETED = "run.completed"
SETTLED = "run.settled"
CANCEL_REQUESTED = "run.cancel_requested"
MAX_REASON = 1024


class RunFields(BaseModel):
    """Alpaca's run object without its order lists, plus rebal's `optimization_id` (the run's
    id is the optimization's) and `broker_integration`."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: EntityId = Field(description="the run id (the optimization id)")
    type: PortfolioRunType
    amount: PositiveMoney | None = None
    initiated_from: RunInitiator = RunInitiator.system
    status: RunStatus
    reason: str | None = Field(default=None, max_length=MAX_REASON)
    account_id: EntityId
    portfolio_id: EntityId
    weights: Weights = ()
    created_at: AwareDatetime
    updated_at: AwareDatetime
    completed_at: AwareDatetime | None = None
    canceled_at: AwareDatetime | None = None
    optimization_id: EntityId
    broker_integration: BrokerIntegration
    retry_of: EntityId | None = Field(
        default=None,
        description="beyond Alpaca: the original run whose failed or expired orders this run "
        "retries (a follow-up run the optimizer started without a new trigger)",
    )


class RunCreated(Event, RunFields):
    """A run exists (status QUEUED: waiting for its execution)."""

    TOPIC = STATUS_CHANGED
    event_type: Literal["run.created"] = "run.created"


class RunStatusChanged(Event, RunFields):
    """A run moved to `status` from `previous_status`."""

    TOPIC = STATUS_CHANGED
    event_type: Literal["run.status_changed"] = "run.status_changed"
    previous_status: RunStatus


RunStatusTopic: TypeAlias = Annotated[
    RunCreated | RunStatusChanged, Field(discriminator="event_type")
]
"""What the run.status_changed topic carries."""


class RunOrder(BaseModel):
    """One order of a run in Alpaca's order-object shape (the fields a rebalancing run's market
    `day` order has), plus rebal's `leg` and the InvestSuite `transaction_status` alongside."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: EntityId | None = Field(default=None, description="the broker's order id, once known")
    client_order_id: EntityId | None = None
    leg: int = Field(ge=0)
    symbol: Symbol
    side: OrderSide
    notional: PositiveMoney | None = None
    qty: Quantity | None = None
    filled_qty: Quantity
    filled_avg_price: Price | None = None
    status: OrderStatus
    type: Literal["market"] = "market"
    order_type: Literal["market"] = "market"
    time_in_force: Literal["day"] = "day"
    asset_class: Literal["us_equity"] = "us_equity"
    filled_at: AwareDatetime | None = None
    expired_at: AwareDatetime | None = None
    canceled_at: AwareDatetime | None = None
    failed_at: AwareDatetime | None = None
    updated_at: AwareDatetime | None = None
    transaction_status: TransactionStatus
    reason: str = Field(default="", max_length=MAX_REASON)
    realized_gains: RealizedGains | None = Field(
        default=None,
        description="a sale: its planned estimated gain scaled to the filled quantity",
    )

    @model_serializer(mode="wrap")
    def _gains_only_when_given(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        return without_absent(data, ("realized_gains",))


class RunCompleted(Event, RunFields):
    """Every order of the run is final (Alpaca completes a run at execution). Published once.

    `orders` are those that executed (fully or partly); `failed_orders` those that ended without any
    fill (rejected, expired, canceled, not executed); `skipped_orders` those never sent (below the
    minimum notional). Version 1 (published only after settlement, without Alpaca's run fields) is
    upcast."""

    TOPIC = COMPLETED
    SCHEMA_VERSION = 2
    event_type: Literal["run.completed"] = "run.completed"
    schema_version: int = 2
    run_id: EntityId = Field(description="the same as `id`, the field every other event names")
    orders: tuple[RunOrder, ...] = Field(default=(), max_length=MAX_POSITIONS)
    failed_orders: tuple[RunOrder, ...] = Field(default=(), max_length=MAX_POSITIONS)
    skipped_orders: tuple[SkippedOrder, ...] = Field(default=(), max_length=MAX_POSITIONS)
    cash_delta: SignedMoney = Field(description="signed: sells add, buys subtract")
    holdings_delta: dict[Symbol, SignedQuantity] = Field(
        default_factory=dict, max_length=MAX_POSITIONS
    )
    last_execution_at: AwareDatetime | None = None
    replan: bool = Field(
        default=False,
        description="stopped at its start because its prices moved: the optimizer plans again",
    )
    realized_gains: RealizedGains | None = Field(
        default=None,
        description="the sales' estimated realized gains, short- and long-term (the planned "
        "lots at the expected price, scaled to what filled); absent when no sale carried any",
    )

    @model_serializer(mode="wrap")
    def _gains_only_when_given(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        return without_absent(data, ("realized_gains",))


class SettledTransaction(BaseModel):
    """Where one leg's transaction ended (InvestSuite movement status)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    leg: int = Field(ge=0)
    symbol: Symbol
    side: OrderSide
    filled_qty: Quantity
    status: TransactionStatus


class RunSettled(Event):
    """Every transaction of the run is final (SETTLED, or ended without execution): the portfolio
    may be optimized again."""

    TOPIC = SETTLED
    event_type: Literal["run.settled"] = "run.settled"
    run_id: EntityId
    optimization_id: EntityId
    portfolio_id: EntityId
    account_id: EntityId
    status: RunStatus = Field(description="the run's final status")
    transactions: tuple[SettledTransaction, ...] = Field(default=(), max_length=MAX_POSITIONS)
    cash_delta: SignedMoney = Field(default=Decimal(0), description="as on run.completed")
    holdings_delta: dict[Symbol, SignedQuantity] = Field(
        default_factory=dict, max_length=MAX_POSITIONS
    )
    last_execution_at: AwareDatetime | None = None
    replan: bool = Field(default=False, description="as on run.completed")
    settled_at: AwareDatetime


class RunCancelRequested(Event):
    """Cancel a run (Alpaca `DELETE /v1/rebalancing/runs/{id}`): CANCELED before any order left,
    CANCELED_MID_RUN after (open orders are cancelled at the broker, fills are kept)."""

    TOPIC = CANCEL_REQUESTED
    event_type: Literal["run.cancel_requested"] = "run.cancel_requested"
    run_id: EntityId
    portfolio_id: EntityId
    reason: str = Field(default="", max_length=MAX_REASON)


EXECUTION = "run.execution"


class RunExecutionStarted(Event):
    """The order-router started executing a PLATFORM run inside the execution window: its first
    order is leaving for the broker (the run is IN_PROGRESS)."""

    TOPIC = EXECUTION
    event_type: Literal["run.execution_started"] = "run.execution_started"
    run_id: EntityId
    portfolio_id: EntityId
    started_at: AwareDatetime


class RunExecutionQueued(Event):
    """The run became ready outside the execution window: it waits (QUEUED) until `starts_at`,
    the next opening of the window."""

    TOPIC = EXECUTION
    event_type: Literal["run.execution_queued"] = "run.execution_queued"
    run_id: EntityId
    portfolio_id: EntityId
    starts_at: AwareDatetime


class RunExecutionStopped(Event):
    """The order-router stopped a run before all its orders ran: `canceled` before any order
    left (CANCELED), `canceled_mid_run` after (open orders cancelled at the broker, legs not sent
    closed as canceled), or `replan` (at the start its prices had moved beyond the tolerance: no
    order left, and the optimizer plans the portfolio again)."""

    TOPIC = EXECUTION
    event_type: Literal["run.execution_stopped"] = "run.execution_stopped"
    run_id: EntityId
    portfolio_id: EntityId
    outcome: Literal["canceled", "canceled_mid_run", "replan"]
    reason: str = Field(default="", max_length=MAX_REASON)
    stopped_at: AwareDatetime


RunExecutionTopic: TypeAlias = Annotated[
    RunExecutionStarted | RunExecutionQueued | RunExecutionStopped,
    Field(discriminator="event_type"),
]
"""What the run.execution topic carries (order-router -> settlement-tracker)."""
