"""The optimizer's pure domain: models, portfolios, conditions, orders, optimizations.

No I/O, no clock, no awaits: `now` (aware UTC), `today` and the trading calendar are passed in.
"""

from .allocation import CENT, QTY_STEP
from .conditions import (
    MANUAL_WEIGHTS_WHILE_SUBSCRIBED,
    Policy,
    RunDecision,
    decide_run,
    resolve_policy,
    uninvested_cash,
)
from .drift import (
    Drift,
    compute_drifts,
    current_weights,
    is_band_breached,
    largest_drift,
    portfolio_value,
)
from .enums import (
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
from .errors import (
    DomainError,
    IllegalTransition,
    InvalidModel,
    InvalidPortfolioUpdate,
    InvalidSettings,
)
from .evaluation import Evaluation, evaluate, submit_external
from .model_portfolio import (
    ModelPortfolio,
    RebalanceCondition,
    TargetWeights,
    Weight,
    validate_conditions,
    validate_weights,
)
from .optimization import (
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
from .orders import Order, OrderPlan, SkippedOrder, generate_orders
from .portfolio import OwnerDecision, Portfolio
from .prices import Price, Prices
from .reasons import FAILURE_CODES, Reason
from .settings import PortfolioSettings
from .trading_days import TradingDays, trading_day_of
from .triggers import AUTOMATIC_REASONS, ConditionEvaluation, Trigger
from .waiting import Waiting, waiting_token

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
