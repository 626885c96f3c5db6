"""Event schemas of rebal: one frozen pydantic model per event, per-topic unions, the codec.

Import events and helpers from here; the submodules are an implementation detail.
"""

from rebal_schemas.codec import (
    KeyMismatch,
    MalformedMessage,
    PoisonMessage,
    SchemaViolation,
    check_key,
    decode,
    encode,
    key_of,
    loads,
    validate,
)
from rebal_schemas.envelope import Event
from rebal_schemas.events.dead_letter import MessageDeadLettered
from rebal_schemas.events.execution import OrderClosed, OrderFilled
from rebal_schemas.events.market import PriceUpdated
from rebal_schemas.events.model import ModelStatusChanged, ModelUpdated
from rebal_schemas.events.optimization import (
    ConditionEvaluation,
    OptimizationCreated,
    OptimizationCreatedTopic,
    OptimizationDecided,
    OptimizationReady,
    OptimizationStatusChanged,
    OptimizationSubmitted,
    Reason,
)
from rebal_schemas.events.orders import PlannedOrder, ProposedOrder, SkippedOrder
from rebal_schemas.events.portfolio import (
    CashDeposited,
    HoldingsReported,
    PortfolioPatched,
    PortfolioSettingsChanged,
    WithdrawalRequested,
)
from rebal_schemas.events.rebalance import RebalanceRequested
from rebal_schemas.events.requests import RequestRejected
from rebal_schemas.events.run import (
    RunCancelRequested,
    RunCompleted,
    RunCreated,
    RunFields,
    RunOrder,
    RunSettled,
    RunStatusChanged,
    RunStatusTopic,
    SettledTransaction,
)
from rebal_schemas.events.settlement import OrderOutcome, TransactionSettled
from rebal_schemas.model_portfolio import RebalanceCondition, Weight
from rebal_schemas.topics import ALL_TOPICS, EVENT_TYPES, TOPICS, Topic, topic_of
from rebal_schemas.types import (
    BrokerIntegration,
    CloseReason,
    Mandate,
    ModelStatus,
    OptimizationStatus,
    OptimizerMode,
    OrderSide,
    OrderStatus,
    OwnerChoice,
    PortfolioRunType,
    RejectionCode,
    RunInitiator,
    RunStatus,
    RunType,
    TransactionStatus,
    TriggerReason,
    new_id,
)

__all__ = [
    "ALL_TOPICS",
    "EVENT_TYPES",
    "TOPICS",
    "BrokerIntegration",
    "CashDeposited",
    "CloseReason",
    "ConditionEvaluation",
    "Event",
    "HoldingsReported",
    "KeyMismatch",
    "MalformedMessage",
    "Mandate",
    "MessageDeadLettered",
    "ModelStatus",
    "ModelStatusChanged",
    "ModelUpdated",
    "OptimizationCreated",
    "OptimizationCreatedTopic",
    "OptimizationDecided",
    "OptimizationReady",
    "OptimizationStatus",
    "OptimizationStatusChanged",
    "OptimizationSubmitted",
    "OptimizerMode",
    "OrderClosed",
    "OrderFilled",
    "OrderOutcome",
    "OrderSide",
    "OrderStatus",
    "OwnerChoice",
    "PlannedOrder",
    "PoisonMessage",
    "PortfolioPatched",
    "PortfolioRunType",
    "PortfolioSettingsChanged",
    "PriceUpdated",
    "ProposedOrder",
    "Reason",
    "RebalanceCondition",
    "RebalanceRequested",
    "RejectionCode",
    "RequestRejected",
    "RunCancelRequested",
    "RunCompleted",
    "RunCreated",
    "RunFields",
    "RunInitiator",
    "RunOrder",
    "RunSettled",
    "RunStatus",
    "RunStatusChanged",
    "RunStatusTopic",
    "RunType",
    "SchemaViolation",
    "SettledTransaction",
    "SkippedOrder",
    "Topic",
    "TransactionSettled",
    "TransactionStatus",
    "TriggerReason",
    "Weight",
    "WithdrawalRequested",
    "check_key",
    "decode",
    "encode",
    "key_of",
    "loads",
    "new_id",
    "topic_of",
    "validate",
]
