"""The optimizer's pure domain: models, portfolios, conditions, orders, optimizations.

No I/O, no clock, no awaits: `now` (aware UTC), `today` and the trading calendar are passed in.
"""

from rebal_optimizer.domain.account import Clamp, PortfolioAccount
from rebal_optimizer.domain.allocation import CENT, QTY_STEP
from rebal_optimizer.domain.conditions import (
    MANUAL_WEIGHTS_WHILE_SUBSCRIBED,
    Policy,
    RunDecision,
    decide_run,
    resolve_policy,
    uninvested_cash,
)
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
from rebal_optimizer.domain.orders import Order, OrderPlan, SkippedOrder, generate_orders
from rebal_optimizer.domain.portfolio import OwnerDecision, Portfolio
from rebal_optimizer.domain.prices import Price, Prices
from rebal_optimizer.domain.reasons import FAILURE_CODES, Reason
from rebal_optimizer.domain.settings import PortfolioSettings
from rebal_optimizer.domain.trading_days import TradingDays, trading_day_of
from rebal_optimizer.domain.triggers import AUTOMATIC_REASONS, ConditionEvaluation, Trigger
from rebal_optimizer.domain.waiting import Waiting, waiting_token

__all__ = [
    "AUTOMATIC_REASONS",
    "CENT",
    "FAILURE_CODES",
    "MANUAL_WEIGHTS_WHILE_SUBSCRIBED",
    "QTY_STEP",
    "TERMINAL_STATUSES",
    "TRANSITIONS",
    "AwaitingOwner",
    "BrokerIntegration",
    "Clamp",
    "ConditionEvaluation",
    "ConditionSubType",
    "ConditionType",
    "DomainError",
    "Drift",
    "Evaluation",
    "ExternalOrder",
    "IllegalTransition",
    "Initiator",
    "InvalidModel",
    "InvalidPortfolioUpdate",
    "InvalidSettings",
    "Mandate",
    "ModelPortfolio",
    "ModelStatus",
    "Optimization",
    "OptimizationEvent",
    "OptimizationStatus",
    "OptimizerMode",
    "Order",
    "OrderPlan",
    "OwnerChoice",
    "OwnerDecision",
    "Policy",
    "Portfolio",
    "PortfolioAccount",
    "PortfolioSettings",
    "Price",
    "Prices",
    "Reason",
    "RebalanceCondition",
    "RunDecision",
    "RunType",
    "Side",
    "SkippedOrder",
    "TargetWeights",
    "TradingDays",
    "Trigger",
    "TriggerReason",
    "Waiting",
    "Weight",
    "WeightType",
    "compute_drifts",
    "current_weights",
    "decide_run",
    "evaluate",
    "external_orders",
    "generate_orders",
    "is_band_breached",
    "largest_drift",
    "portfolio_value",
    "resolve_policy",
    "submit_external",
    "trading_day_of",
    "uninvested_cash",
    "validate_conditions",
    "validate_external",
    "validate_weights",
    "waiting_token",
]
