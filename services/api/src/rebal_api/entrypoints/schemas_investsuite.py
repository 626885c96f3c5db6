"""The HTTP shapes of InvestSuite-style `/v1/portfolios` (what the OpenAPI document shows).

Amounts accept a JSON number or a decimal string (as `/v1/rebalancing` does); responses carry
decimal strings. Responses are what `domain.investsuite` builds; unknown fields may be added.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from rebal_api.entrypoints.schemas import (
    Incoming,
    Number,
    Outgoing,
    SkippedOrderOut,
    WeightIn,
    WeightOut,
)

TransactionStatus = Literal[
    "PLANNED", "EXECUTED", "SETTLED", "NOT_EXECUTED", "EXPIRED", "CANCELLED"
]


class SettingsIn(Incoming):
    """Only the fields given change. As on the topic, null leaves a setting unchanged except
    `model_id` (null ends the subscription) and `target_weights` (null drops the own weights);
    a `cash_buffer_percent` of 0 removes the buffer."""

    mandate: Literal["ADVISORY", "DISCRETIONARY"] | None = None
    broker_integration: Literal["PLATFORM", "CLIENT"] | None = None
    optimizer: Literal["PLATFORM", "EXTERNAL"] | None = None
    model_id: str | None = Field(None, description="rebal's model id (not the Alpaca UUID)")
    target_weights: list[WeightIn] | None = None
    fractional_trading: bool | None = None
    min_order_notional: Number | None = None
    cash_buffer_percent: Number | None = None
    invest_cash_threshold: Number | None = None
    active: bool | None = None
    rebalance_to: Literal["target", "band_edge"] | None = Field(
        None, description="beyond InvestSuite: trade back to target, or only what breaches its band"
    )
    band_edge_margin_percent: Number | None = Field(
        None, description="with band_edge: how far inside the band, % of its width (default 20)"
    )
    lot_policy: Literal["fifo", "hifo", "tax_min"] | None = Field(
        None, description="beyond InvestSuite: which tax lots a sale consumes (default fifo)"
    )
    wash_sale_guard: Literal["off", "hold"] | None = Field(
        None, description="hold: no buy within 30 days after a loss sale of the symbol"
    )
    commission_per_order: Number | None = Field(
        None, description="cost model: commission per order, USD (default 0)"
    )
    spread_bps: Number | None = Field(
        None, description="cost model: bid-ask spread in basis points, symbols not listed below"
    )
    spread_bps_by_symbol: dict[str, Number] | None = Field(
        None, description="cost model: spread in basis points per symbol (replaces the map)"
    )
    cost_gate_threshold: Number | None = Field(
        None,
        description="beyond InvestSuite: skip a rebalance costing more than this ratio of the "
        "USD it puts back in place (COST_GATE); 0 = off",
    )
    carry_forward_skipped: bool | None = Field(
        None,
        description="beyond InvestSuite: join orders skipped below the minimum to the next run",
    )
    max_order_retries: int | None = Field(
        None,
        ge=0,
        le=5,
        description="beyond InvestSuite: follow-up runs retrying what failed or expired (0 = none)",
    )


class HoldingIn(Incoming):
    symbol: str
    quantity: Number


class PortfolioPatchIn(Incoming):
    account_id: str | None = Field(None, description="the broker account (Alpaca account_id)")
    settings: SettingsIn | None = None
    holdings: list[HoldingIn] | None = Field(
        None, description="a snapshot: replaces every holding (and the cash, when given)"
    )
    cash: Number | None = Field(None, description="with `holdings`: the cash of the snapshot")
    holdings_as_of: AwareDatetime | None = Field(None, description="default: now")


class DepositIn(Incoming):
    amount: Number
    deposit_id: str | None = Field(None, description="the deposit's idempotency key")
    currency: Literal["USD"] = "USD"


class WithdrawalIn(Incoming):
    amount: Number | None = Field(None, description="the total to raise; or `full`")
    full: bool = False
    currency: Literal["USD"] = "USD"


class DecisionIn(Incoming):
    owner_choice: Literal["ACCEPT", "REJECT", "REOPTIMIZE"]


class SettingsOut(Outgoing):
    mandate: Literal["ADVISORY", "DISCRETIONARY"]
    broker_integration: Literal["PLATFORM", "CLIENT"]
    optimizer: Literal["PLATFORM", "EXTERNAL"]
    model_id: str | None
    target_weights: list[WeightOut]
    fractional_trading: bool
    min_order_notional: str
    cash_buffer_percent: str
    invest_cash_threshold: str
    active: bool
    rebalance_to: Literal["target", "band_edge"]
    band_edge_margin_percent: str
    lot_policy: Literal["fifo", "hifo", "tax_min"] = "fifo"
    wash_sale_guard: Literal["off", "hold"] = "off"
    commission_per_order: str
    spread_bps: str
    spread_bps_by_symbol: dict[str, str]
    cost_gate_threshold: str
    carry_forward_skipped: bool
    max_order_retries: int


class HoldingOut(Outgoing):
    symbol: str
    quantity: str


class BlockingRunOut(Outgoing):
    run_id: str
    optimization_id: str
    run_type: Literal["full_rebalance", "invest_cash", "partial_liquidation"]
    blocked_since: str
    status: str | None = Field(description="the run's Alpaca status, once rebal reported it")
    alpaca_run_id: str | None


class PortfolioBookOut(Outgoing):
    id: str
    account_id: str | None
    currency: Literal["USD"]
    cash: str
    holdings: list[HoldingOut]
    holdings_as_of: str | None
    pending_withdrawal: str = Field(description="reserved for a withdrawal until paid out")
    full_withdrawal: bool
    settings: SettingsOut
    blocked: bool = Field(description="a run is in flight: no optimization until it settles")
    blocking_run: BlockingRunOut | None
    last_optimization_id: str | None
    created_at: str
    updated_at: str


class PlannedOrderOut(Outgoing):
    leg: int
    symbol: str
    side: Literal["buy", "sell"]
    qty: str | None
    notional: str | None
    expected_price: str | None


class EvaluationOut(Outgoing):
    name: str
    met: bool
    value: str | None
    threshold: str | None
    detail: str


class ReasonOut(Outgoing):
    code: str
    detail: str


class OptimizationOut(Outgoing):
    id: str
    portfolio_id: str
    account_id: str
    status: Literal[
        "CREATED",
        "NOT_RECOMMENDED",
        "AWAITING_OWNER",
        "READY",
        "REJECTED",
        "SUPERSEDED",
        "EXPIRED",
    ]
    is_recommended: bool
    run_type: Literal["full_rebalance", "invest_cash", "withdrawal"]
    trigger: str
    initiated_from: str
    source: Literal["PLATFORM", "EXTERNAL"]
    mandate: Literal["ADVISORY", "DISCRETIONARY"]
    broker_integration: Literal["PLATFORM", "CLIENT"]
    amount: str | None
    shortfall: str | None
    expires_at: str | None
    created_at: str
    updated_at: str
    owner_choice: Literal["ACCEPT", "REJECT", "REOPTIMIZE"] | None
    owner_choice_requested: Literal["ACCEPT", "REJECT", "REOPTIMIZE"] | None = Field(
        description="the choice the api sent, until the optimizer answers it"
    )
    owner_choice_refused: str | None = Field(description="why the optimizer refused it")
    detail: str
    weights: list[WeightOut]
    orders: list[PlannedOrderOut]
    skipped_orders: list[SkippedOrderOut]
    reasons: list[ReasonOut]
    decision: list[EvaluationOut] = Field(description="the condition evaluations")


class OptimizationsOut(Outgoing):
    optimizations: list[OptimizationOut]
    next_page_token: str | None


class TransactionOut(Outgoing):
    id: str
    run_id: str
    leg: int
    symbol: str
    side: Literal["buy", "sell"]
    status: TransactionStatus = Field(description="InvestSuite's movement status")
    order_status: str | None = Field(description="the broker order's status, once executed")
    qty: str | None
    notional: str | None
    filled_qty: str | None
    filled_avg_price: str | None
    executed_at: str | None
    trade_date: str | None
    settlement_date: str | None
    settled_at: str | None
    run_type: Literal["full_rebalance", "invest_cash", "partial_liquidation"]
    run_status: str
    created_at: str


class TransactionsOut(Outgoing):
    transactions: list[TransactionOut]
    next_page_token: str | None
