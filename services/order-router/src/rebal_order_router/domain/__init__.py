"""Pure domain of the order-router: orders as a transition table, runs (sells before buys),
deterministic client_order_ids, the facts to publish, and the broker port."""

from rebal_order_router.domain.broker import (
    BrokerOrder,
    TradeUpdate,
    event_from_broker_order,
    event_from_trade_update,
)
from rebal_order_router.domain.client_order_id import (
    MAX_CLIENT_ORDER_ID_LENGTH,
    client_order_id,
    is_rebal_client_order_id,
    is_valid_leg,
    leg_id,
)
from rebal_order_router.domain.errors import (
    BrokerAuthFailed,
    BrokerError,
    BrokerUnavailable,
    DuplicateClientOrderId,
    OrderRejected,
    RateLimited,
)
from rebal_order_router.domain.events import OrderEvent, OrderEventKind
from rebal_order_router.domain.facts import OrderClosed, OrderFact, OrderFilled
from rebal_order_router.domain.order import TRANSITIONS, ApplyOutcome, Order, OrderTransition
from rebal_order_router.domain.pending_cancel import (
    MAX_PENDING_CANCELS,
    PendingCancel,
    PendingCancels,
)
from rebal_order_router.domain.ports import BrokerPort
from rebal_order_router.domain.retry import RetryPolicy
from rebal_order_router.domain.run_execution import (
    RUN_CANCELED,
    WINDOW_CLOSED,
    BrokerCancel,
    OrderIntent,
    RunCancellation,
    RunExecution,
    RunUpdate,
    UnknownOrder,
)
from rebal_order_router.domain.start import (
    DEFAULT_PRICE_TOLERANCE,
    ExecutionStart,
    PriceMove,
    StartError,
    StopOutcome,
    price_moves,
    replan_reason,
)
from rebal_order_router.domain.stored_run import (
    RunMeta,
    StoredRun,
    day_key,
    done_day,
    has_started,
    needs_dispatch,
    never_sent,
    unanswered,
)
from rebal_order_router.domain.values import (
    NEW_YORK,
    CloseReason,
    OrderSide,
    OrderStatus,
    trade_date_of,
)
from rebal_order_router.domain.window import ExecutionWindow, SessionCalendar

__all__ = [
    "DEFAULT_PRICE_TOLERANCE",
    "MAX_CLIENT_ORDER_ID_LENGTH",
    "MAX_PENDING_CANCELS",
    "NEW_YORK",
    "RUN_CANCELED",
    "TRANSITIONS",
    "WINDOW_CLOSED",
    "ApplyOutcome",
    "BrokerAuthFailed",
    "BrokerCancel",
    "BrokerError",
    "BrokerOrder",
    "BrokerPort",
    "BrokerUnavailable",
    "CloseReason",
    "DuplicateClientOrderId",
    "ExecutionStart",
    "ExecutionWindow",
    "Order",
    "OrderClosed",
    "OrderEvent",
    "OrderEventKind",
    "OrderFact",
    "OrderFilled",
    "OrderIntent",
    "OrderRejected",
    "OrderSide",
    "OrderStatus",
    "OrderTransition",
    "PendingCancel",
    "PendingCancels",
    "PriceMove",
    "RateLimited",
    "RetryPolicy",
    "RunCancellation",
    "RunExecution",
    "RunMeta",
    "RunUpdate",
    "SessionCalendar",
    "StartError",
    "StopOutcome",
    "StoredRun",
    "TradeUpdate",
    "UnknownOrder",
    "client_order_id",
    "day_key",
    "done_day",
    "event_from_broker_order",
    "event_from_trade_update",
    "has_started",
    "is_rebal_client_order_id",
    "is_valid_leg",
    "leg_id",
    "needs_dispatch",
    "never_sent",
    "price_moves",
    "replan_reason",
    "trade_date_of",
    "unanswered",
]
