"""`portfolio.patched`: holdings, cash movements and settings of a portfolio (key `portfolio_id`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal, TypeAlias

from pydantic import (
    AwareDatetime,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from rebal_schemas.enums import (
    BrokerIntegration,
    LotPolicy,
    Mandate,
    OptimizerMode,
    RebalanceTo,
    WashSaleGuard,
)
from rebal_schemas.envelope import Event
from rebal_schemas.events.orders import TaxLot, without_absent
from rebal_schemas.model_portfolio import Weights, check_weights
from rebal_schemas.types import (
    MAX_POSITIONS,
    BoundedDecimal,
    EntityId,
    Money,
    Percent,
    PercentOrZero,
    PositiveMoney,
    SignedMoney,
    SignedQuantity,
    Symbol,
)

TOPIC = "portfolio.patched"

BasisPoints = Annotated[Decimal, BoundedDecimal(2, "non_negative", "basis points")]
"""A spread in basis points (1 bp = 0.01 %), two decimals."""
Ratio = Annotated[Decimal, BoundedDecimal(4, "non_negative", "ratio")]
"""A plain ratio, four decimals (0.01 = 1 %)."""


class PortfolioEvent(Event):
    TOPIC = TOPIC
    portfolio_id: EntityId


PLAIN_SETTINGS = (
    "mandate",
    "broker_integration",
    "optimizer",
    "fractional_trading",
    "min_order_notional",
    "cash_buffer_percent",
    "invest_cash_threshold",
    "active",
    "rebalance_to",
    "band_edge_margin_percent",
    "lot_policy",
    "wash_sale_guard",
    "commission_per_order",
    "spread_bps",
    "spread_bps_by_symbol",
    "cost_gate_threshold",
    "carry_forward_skipped",
    "max_order_retries",
)
"""The settings that are values of their own (null = kept): no other setting depends on them."""
PATCHABLE_SETTINGS = ("account_id", "model_id", "target_weights", *PLAIN_SETTINGS)
"""The settings a `portfolio.settings_changed` patches (present = changed, absent = kept)."""


class PortfolioSettingsChanged(PortfolioEvent):
    """Creates the portfolio on first sight, then patches only the fields that are present.

    A portfolio follows a model (`model_id`, Alpaca's subscription) or its own `target_weights`,
    never both. `model_id: null` ends the subscription.
    """

    event_type: Literal["portfolio.settings_changed"] = "portfolio.settings_changed"
    account_id: EntityId | None = Field(
        default=None, description="broker account (Alpaca account_id)"
    )
    mandate: Mandate | None = None
    broker_integration: BrokerIntegration | None = None
    optimizer: OptimizerMode | None = None
    model_id: EntityId | None = None
    target_weights: Weights | None = None
    fractional_trading: bool | None = None
    min_order_notional: PositiveMoney | None = None
    cash_buffer_percent: PercentOrZero | None = Field(
        default=None, description="0 removes the buffer; null leaves it unchanged"
    )
    invest_cash_threshold: Money | None = None
    active: bool | None = None
    rebalance_to: RebalanceTo | None = Field(
        default=None,
        description="beyond Alpaca: `target` (default) rebalances back to target; `band_edge` "
        "trades only the positions that breach their drift band, to just inside it",
    )
    band_edge_margin_percent: Percent | None = Field(
        default=None,
        description="with `band_edge`: how far inside the band a breaching position lands, in "
        "percent of the band's width (default 20; 100 = back to target)",
    )
    lot_policy: LotPolicy | None = Field(
        default=None,
        description="beyond Alpaca: which tax lots a sale consumes, `fifo` (default), `hifo` or "
        "`tax_min` (losses first, then long-term gains, short-term gains last)",
    )
    wash_sale_guard: WashSaleGuard | None = Field(
        default=None,
        description="`hold`: a buy within 30 days after the symbol was sold at a loss is held "
        "back (`WASH_SALE`); `off` (default) buys as before",
    )
    commission_per_order: Money | None = Field(
        default=None, description="cost model: commission per order in USD (default 0)"
    )
    spread_bps: BasisPoints | None = Field(
        default=None,
        description="cost model: bid-ask spread in basis points of symbols not in "
        "`spread_bps_by_symbol` (default 0); an order pays half of it on its notional",
    )
    spread_bps_by_symbol: dict[Symbol, BasisPoints] | None = Field(
        default=None,
        max_length=MAX_POSITIONS,
        description="cost model: spread in basis points per symbol; replaces the whole map",
    )
    cost_gate_threshold: Ratio | None = Field(
        default=None,
        description="beyond Alpaca: skip a full rebalance whose estimated cost exceeds this "
        "ratio times the USD its trades put back in place (reason COST_GATE); 0 = off (default)",
    )
    carry_forward_skipped: bool | None = Field(
        default=None,
        description="beyond Alpaca: an order skipped below the minimum notional is carried "
        "forward and joined to the next run's order for its symbol (default false)",
    )
    max_order_retries: int | None = Field(
        default=None,
        ge=0,
        le=5,
        description="beyond Alpaca: how many follow-up runs retry the failed or expired orders "
        "of a COMPLETED_ADJUSTED run (`retry_of` names the original); 0 = none (default)",
    )
    base_currency: Literal["USD"] = "USD"

    @model_serializer(mode="wrap")
    def _only_what_was_given(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # A patch says only what it changes: a setting the producer did not give is left out of
        # the JSON, since `null` means something for some of them (`model_id: null` ends the
        # subscription). A setting given as None stays, as an explicit null.
        data: dict[str, Any] = handler(self)
        for name in set(PATCHABLE_SETTINGS) - self.model_fields_set:
            data.pop(name, None)
        return data

    @model_validator(mode="after")
    def _one_target(self) -> PortfolioSettingsChanged:
        if self.model_id is not None and self.target_weights is not None:
            raise ValueError("a portfolio follows a model_id or its own target_weights, not both")
        if self.target_weights is not None:
            check_weights(self.target_weights)
        return self


class HoldingsReported(PortfolioEvent):
    """Holdings and cash: a full `snapshot` (InvestSuite's PATCH replaces them) or signed `delta`s."""

    event_type: Literal["portfolio.holdings_reported"] = "portfolio.holdings_reported"
    mode: Literal["snapshot", "delta"] = "snapshot"
    as_of: AwareDatetime
    holdings: dict[Symbol, SignedQuantity] = Field(default_factory=dict, max_length=MAX_POSITIONS)
    cash: SignedMoney | None = None
    lots: dict[Symbol, Annotated[tuple[TaxLot, ...], Field(max_length=MAX_POSITIONS)]] | None = (
        Field(
            default=None,
            max_length=MAX_POSITIONS,
            description="snapshot only: per symbol its tax lots, which add up to its quantity; "
            "a symbol without lots is kept as one lot at an average cost",
        )
    )

    @model_serializer(mode="wrap")
    def _lots_only_when_given(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        return without_absent(data, ("lots",))

    @model_validator(mode="after")
    def _lots_match_holdings(self) -> HoldingsReported:
        if self.lots is None:
            return self
        if self.mode != "snapshot":
            raise ValueError("lots come with a snapshot, not a delta")
        for symbol, lots in self.lots.items():
            if sum((lot.qty for lot in lots), Decimal(0)) != self.holdings.get(symbol, 0):
                raise ValueError(f"the lots of {symbol} do not add up to its quantity")
        return self

    @model_validator(mode="after")
    def _snapshot_not_negative(self) -> HoldingsReported:
        if self.mode == "snapshot":
            if any(qty < 0 for qty in self.holdings.values()):
                raise ValueError(
                    "snapshot holdings must not be negative (short positions unsupported)"
                )
            if self.cash is not None and self.cash < 0:
                raise ValueError("snapshot cash must not be negative")
        return self


class CashDeposited(PortfolioEvent):
    """A funding (InvestSuite `POST /events/deposit/`); `deposit_id` is its idempotency key."""

    event_type: Literal["portfolio.cash_deposited"] = "portfolio.cash_deposited"
    amount: PositiveMoney
    currency: Literal["USD"] = "USD"
    deposit_id: EntityId | None = None


class WithdrawalRequested(PortfolioEvent):
    """InvestSuite's `divest_amount`: the total to raise, or everything with `full`."""

    event_type: Literal["portfolio.withdrawal_requested"] = "portfolio.withdrawal_requested"
    amount: PositiveMoney | None = None
    full: bool = False
    currency: Literal["USD"] = "USD"

    @model_validator(mode="after")
    def _amount_or_full(self) -> WithdrawalRequested:
        if (self.amount is None) == (not self.full):
            raise ValueError("give either an amount or full=true")
        return self


# What the portfolio.patched topic carries: the type its handlers are annotated with (FastStream
# documents and validates the payload from it) and the one `topics.PORTFOLIO_PATCHED` is built from.
PortfolioPatched: TypeAlias = Annotated[
    PortfolioSettingsChanged | HoldingsReported | CashDeposited | WithdrawalRequested,
    Field(discriminator="event_type"),
]
