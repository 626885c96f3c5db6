"""The optimizer's pure domain: models, portfolios, conditions, orders, optimizations.

No I/O, no clock, no awaits: `now` (aware UTC), `today` and the trading calendar are passed in.
"""

from rebal_optimizer.domain.account import PortfolioAccount
from rebal_optimizer.domain.allocation import CENT, QTY_STEP
from rebal_optimizer.domain.conditions import decide_run
from rebal_optimizer.domain.deferral import Deferred, next_trading_day
from rebal_optimizer.domain.drift import (
    Drift,
    compute_drifts,
    current_weights,
    is_band_breached,
    largest_drift,
    portfolio_value,
)
from rebal_optimizer.domain.enums import (
    BrokerIntegration,
    ConditionSubType,
    ConditionType,
    Initiator,
    Mandate,
    ModelStatus,
    OptimizerMode,
    OwnerChoice,
    RebalanceTo,
    RunType,
    Side,
    TriggerReason,
    WeightType,
)
from rebal_optimizer.domain.errors import (
    DomainError,
    IllegalTransition,
    InvalidModel,
    InvalidPortfolioUpdate,
    InvalidSettings,
)
from rebal_optimizer.domain.evaluation import Evaluation, evaluate, submit_external
from rebal_optimizer.domain.governance import (
    PendingSubscription,
    Refusal,
    StatusChange,
    deactivation_refusal,
    governed,
    ineligible,
    overdue_subscription_refusal,
    status_change,
    subscription_refusal,
    symbol_became_ineligible,
)
from rebal_optimizer.domain.model_portfolio import (
    ModelPortfolio,
    RebalanceCondition,
    TargetWeights,
    Weight,
    validate_conditions,
    validate_weights,
)
from rebal_optimizer.domain.optimization import (
    TERMINAL_STATUSES,
    TRANSITIONS,
    AwaitingOwner,
    ExternalOrder,
    Optimization,
    OptimizationEvent,
    OptimizationStatus,
    external_orders,
    validate_external,
)
from rebal_optimizer.domain.order_plan import Order, OrderPlan, SkippedOrder
from rebal_optimizer.domain.orders import generate_orders
from rebal_optimizer.domain.policy import Policy, resolve_policy, uninvested_cash
from rebal_optimizer.domain.portfolio import OwnerDecision, Portfolio
from rebal_optimizer.domain.prices import Price, Prices
from rebal_optimizer.domain.reasons import (
    CLIENT_HOLDINGS_LATE,
    FAILURE_CODES,
    OWN_WEIGHTS_WHILE_SUBSCRIBED,
    Reason,
)
from rebal_optimizer.domain.record import RunDecision
from rebal_optimizer.domain.replan import Origin
from rebal_optimizer.domain.runs import (
    Clamp,
    LateFill,
    LateFillStep,
    RunResult,
    RunStep,
    late_fill,
    run_completed,
    run_settled,
)
from rebal_optimizer.domain.settings import PortfolioSettings
from rebal_optimizer.domain.trading_days import TradingDays, trading_day_of
from rebal_optimizer.domain.triggers import AUTOMATIC_REASONS, ConditionEvaluation, Trigger
from rebal_optimizer.domain.waiting import Waiting, waiting_token

__all__ = [
    "AUTOMATIC_REASONS",
    "CENT",
    "CLIENT_HOLDINGS_LATE",
    "FAILURE_CODES",
    "OWN_WEIGHTS_WHILE_SUBSCRIBED",
    "QTY_STEP",
    "TERMINAL_STATUSES",
    "TRANSITIONS",
    "AwaitingOwner",
    "BrokerIntegration",
    "Clamp",
    "ConditionEvaluation",
    "ConditionSubType",
    "ConditionType",
    "Deferred",
    "DomainError",
    "Drift",
    "Evaluation",
    "ExternalOrder",
    "IllegalTransition",
    "Initiator",
    "InvalidModel",
    "InvalidPortfolioUpdate",
    "InvalidSettings",
    "LateFill",
    "LateFillStep",
    "Mandate",
    "ModelPortfolio",
    "ModelStatus",
    "Optimization",
    "OptimizationEvent",
    "OptimizationStatus",
    "OptimizerMode",
    "Order",
    "OrderPlan",
    "Origin",
    "OwnerChoice",
    "OwnerDecision",
    "PendingSubscription",
    "Policy",
    "Portfolio",
    "PortfolioAccount",
    "PortfolioSettings",
    "Price",
    "Prices",
    "Reason",
    "RebalanceCondition",
    "RebalanceTo",
    "Refusal",
    "RunDecision",
    "RunResult",
    "RunStep",
    "RunType",
    "Side",
    "SkippedOrder",
    "StatusChange",
    "TargetWeights",
    "TradingDays",
    "Trigger",
    "TriggerReason",
    "Waiting",
    "Weight",
    "WeightType",
    "compute_drifts",
    "current_weights",
    "deactivation_refusal",
    "decide_run",
    "evaluate",
    "external_orders",
    "generate_orders",
    "governed",
    "ineligible",
    "is_band_breached",
    "largest_drift",
    "late_fill",
    "next_trading_day",
    "overdue_subscription_refusal",
    "portfolio_value",
    "resolve_policy",
    "run_completed",
    "run_settled",
    "status_change",
    "submit_external",
    "subscription_refusal",
    "symbol_became_ineligible",
    "trading_day_of",
    "uninvested_cash",
    "validate_conditions",
    "validate_external",
    "validate_weights",
    "waiting_token",
]
