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
from rebal_schemas.events.model import ModelUpdated
from rebal_schemas.events.optimization import (
    OptimizationCreatedTopic,
    OptimizationDecided,
    OptimizationReady,
    OptimizationSubmitted,
)
from rebal_schemas.events.portfolio import PortfolioPatched
from rebal_schemas.events.rebalance import RebalanceRequested
from rebal_schemas.events.settlement import RunCompleted, TransactionSettled

if TYPE_CHECKING:
    # PEP 747 (what pydantic's TypeAdapter takes); typing-only, so no runtime dependency.
    from typing_extensions import TypeForm

REBALANCE_REQUESTED_NAME = "rebalance.requested"


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
    events: tuple[type[Event], ...] = field(init=False)
    adapter: TypeAdapter[Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "events", event_classes(self.payload_type))
        object.__setattr__(self, "adapter", TypeAdapter(self.payload_type))

    def key_of(self, event: Event) -> bytes:
        """The Kafka key a producer gives `event` on this topic."""
        value = getattr(event, self.key_field, None)
        if value is None and self.name == REBALANCE_REQUESTED_NAME:
            value = getattr(event, "model_id", None) or "*"
        return str(value if value is not None else "").encode()

    def key_of_payload(self, data: dict[str, Any]) -> str | None:
        """The key `key_of` would give the event this decoded payload validates to, read before
        validation; None when the key field is absent or not a string (validation says why)."""
        value = data.get(self.key_field)
        if value is None and self.name == REBALANCE_REQUESTED_NAME:
            value = data.get("model_id") or "*"
        return value if isinstance(value, str) else None


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
RUN_COMPLETED = Topic(
    "run.completed",
    "portfolio_id",
    RunCompleted,
    "Every transaction of a ready optimization is final; outcome, cash and holdings deltas.",
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
    TRANSACTION_SETTLED,
    RUN_COMPLETED,
    DEAD_LETTER,
)
TOPICS: dict[str, Topic] = {t.name: t for t in ALL_TOPICS}
EVENT_TYPES: dict[str, type[Event]] = {
    e.model_fields["event_type"].default: e for t in ALL_TOPICS for e in t.events
}


def topic_of(event: Event) -> Topic:
    return TOPICS[event.TOPIC]
