"""Every topic of docs/design.md §2: its name, its partition key, and the events it carries."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import UnionType
from typing import TYPE_CHECKING, Annotated, Any, Union, get_args, get_origin

from pydantic import TypeAdapter

from rebal_schemas.envelope import Event
from rebal_schemas.events.dead_letter import MessageDeadLettered
from rebal_schemas.events.execution import OrderClosed, OrderFilled
from rebal_schemas.events.market import PriceUpdated
from rebal_schemas.events.model import ModelStatusChanged, ModelUpdated
from rebal_schemas.events.optimization import (
    OptimizationCreatedTopic,
    OptimizationDecided,
    OptimizationReady,
    OptimizationSubmitted,
)
from rebal_schemas.events.portfolio import PortfolioPatched
from rebal_schemas.events.rebalance import RebalanceRequested
from rebal_schemas.events.requests import RequestRejected
from rebal_schemas.events.run import (
    RunCancelRequested,
    RunCompleted,
    RunExecutionTopic,
    RunSettled,
    RunStatusTopic,
)
from rebal_schemas.events.settlement import TransactionSettled

if TYPE_CHECKING:
    # PEP 747 (what pydantic's TypeAdapter takes); typing-only, so no runtime dependency.
    from typing_extensions import TypeForm


def event_classes(payload_type: object) -> tuple[type[Event], ...]:
    """The event models a topic payload type admits: the model itself, or the members of a
    (discriminated) union of models."""
    inner = get_args(payload_type)[0] if get_origin(payload_type) is Annotated else payload_type
    members = get_args(inner) if get_origin(inner) in (Union, UnionType) else (inner,)
    if not members or not all(isinstance(m, type) and issubclass(m, Event) for m in members):
        raise TypeError(f"not an event model or a union of event models: {payload_type!r}")
    return tuple(members)


@dataclass(frozen=True)
class Topic:
    """One topic, built from its payload type: the event model it carries, or the discriminated
    union of them (`PortfolioPatched`, `OptimizationCreatedTopic`). Handlers are annotated with
    that same public type, so FastStream documents and validates exactly this payload."""

    name: str
    key_field: str
    payload_type: TypeForm[Any]
    description: str
    partitions: int = 6
    fallback_key_fields: tuple[str, ...] = ()
    """Read in order when `key_field` is absent (a request about a model, not a portfolio)."""
    default_key: str = ""
    """The key when none of the key fields is set (`*`: a request about every portfolio)."""
    events: tuple[type[Event], ...] = field(init=False)
    adapter: TypeAdapter[Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "events", event_classes(self.payload_type))
        object.__setattr__(self, "adapter", TypeAdapter(self.payload_type))

    def key_of(self, event: Event) -> bytes:
        """The Kafka key a producer gives `event` on this topic."""
        for name in (self.key_field, *self.fallback_key_fields):
            value = getattr(event, name, None)
            if value is not None:
                return str(value).encode()
        return self.default_key.encode()

    def key_field_of_payload(self, data: dict[str, Any]) -> str:
        """Which field gives this payload its key, for error messages."""
        for name in (self.key_field, *self.fallback_key_fields):
            if data.get(name) is not None:
                return name
        fields = " or ".join((self.key_field, *self.fallback_key_fields))
        return f"{self.default_key!r} (no {fields})" if self.default_key else self.key_field

    def key_of_payload(self, data: dict[str, Any]) -> str | None:
        """The key `key_of` would give the event this decoded payload validates to, read before
        validation; None when the key field is absent or not a string (validation says why)."""
        for name in (self.key_field, *self.fallback_key_fields):
            value = data.get(name)
            if value is not None:
                return value if isinstance(value, str) else None
        return self.default_key or None


PORTFOLIO_PATCHED = Topic(
    "portfolio.patched",
    "portfolio_id",
    PortfolioPatched,
    "Holdings, cash movements and settings of a portfolio, published by clients.",
)
MODEL_UPDATED = Topic(
    "model.updated",
    "model_id",
    ModelUpdated,
    "A model portfolio created, changed or deactivated.",
)
MARKET_PRICES = Topic(
    "market.prices", "symbol", PriceUpdated, "Last price per symbol with trading flags."
)
REBALANCE_REQUESTED = Topic(
    "rebalance.requested",
    "portfolio_id",
    RebalanceRequested,
    "Evaluate one portfolio, one model's subscribers, or all portfolios.",
    fallback_key_fields=("model_id",),
    default_key="*",
)
OPTIMIZATION_SUBMITTED = Topic(
    "optimization.submitted",
    "portfolio_id",
    OptimizationSubmitted,
    "An optimization computed outside rebal (external optimizer).",
)
OPTIMIZATION_CREATED = Topic(
    "optimization.created",
    "portfolio_id",
    OptimizationCreatedTopic,
    "Every computed optimization with its decision record, and its later lifecycle steps.",
)
OPTIMIZATION_DECIDED = Topic(
    "optimization.decided",
    "portfolio_id",
    OptimizationDecided,
    "The owner's choice on an advisory optimization.",
)
OPTIMIZATION_READY = Topic(
    "optimization.ready",
    "portfolio_id",
    OptimizationReady,
    "Orders ready to execute; the portfolio is now blocked.",
)
ORDER_FILLED = Topic("order.filled", "portfolio_id", OrderFilled, "An execution (cumulative).")
ORDER_CLOSED = Topic(
    "order.closed", "portfolio_id", OrderClosed, "An order ended without a (full) fill."
)
TRANSACTION_SETTLED = Topic(
    "transaction.settled", "portfolio_id", TransactionSettled, "A transaction reached SETTLED."
)
RUN_CANCEL_REQUESTED = Topic(
    "run.cancel_requested",
    "portfolio_id",
    RunCancelRequested,
    "Cancel a run: CANCELED before any order left, CANCELED_MID_RUN after.",
)
RUN_EXECUTION = Topic(
    "run.execution",
    "portfolio_id",
    RunExecutionTopic,
    "The order-router's execution of a PLATFORM run: queued, started, stopped.",
)
RUN_STATUS_CHANGED = Topic(
    "run.status_changed",
    "portfolio_id",
    RunStatusTopic,
    "run.created and run.status_changed: the Alpaca run object without orders.",
)
RUN_COMPLETED = Topic(
    "run.completed",
    "portfolio_id",
    RunCompleted,
    "Every order of the run is final: the Alpaca run object with its orders, cash and holdings "
    "deltas.",
)
RUN_SETTLED = Topic(
    "run.settled",
    "portfolio_id",
    RunSettled,
    "Every transaction of the run is final: the portfolio may be optimized again.",
)
MODEL_STATUS_CHANGED = Topic(
    "model.status_changed",
    "model_id",
    ModelStatusChanged,
    "A model became needs_adjustment, active again, or inactive.",
)
REQUEST_REJECTED = Topic(
    "request.rejected",
    "portfolio_id",
    RequestRejected,
    "A valid client request refused by a rule: reason code, message, causation_id.",
    fallback_key_fields=("model_id",),
)
DEAD_LETTER = Topic(
    "dead.letter",
    "key",
    MessageDeadLettered,
    "A message that can never be processed, with the original bytes and the error.",
    partitions=1,
)

ALL_TOPICS: tuple[Topic, ...] = (
    PORTFOLIO_PATCHED,
    MODEL_UPDATED,
    MARKET_PRICES,
    REBALANCE_REQUESTED,
    OPTIMIZATION_SUBMITTED,
    OPTIMIZATION_CREATED,
    OPTIMIZATION_DECIDED,
    OPTIMIZATION_READY,
    ORDER_FILLED,
    ORDER_CLOSED,
    RUN_CANCEL_REQUESTED,
    RUN_EXECUTION,
    RUN_STATUS_CHANGED,
    TRANSACTION_SETTLED,
    RUN_COMPLETED,
    RUN_SETTLED,
    MODEL_STATUS_CHANGED,
    REQUEST_REJECTED,
    DEAD_LETTER,
)
TOPICS: dict[str, Topic] = {t.name: t for t in ALL_TOPICS}
EVENT_TYPES: dict[str, type[Event]] = {
    e.model_fields["event_type"].default: e for t in ALL_TOPICS for e in t.events
}


def topic_of(event: Event) -> Topic:
    return TOPICS[event.TOPIC]
