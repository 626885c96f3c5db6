"""The simulated order: its request, its state and its state machine (pure).

Transitions are a table keyed by (current status, event type) so that every legal move is
visible in one place; `apply` refuses everything else.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from rebal_broker_sim.domain.decimals import quantize_price


class OrderStatus(StrEnum):
    NEW = "new"
    ACCEPTED = "accepted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    EXPIRED = "expired"
    REJECTED = "rejected"


OPEN_STATUSES = frozenset({OrderStatus.NEW, OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED})


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """A validated market/day order request: exactly one of qty and notional is set."""

    account_id: str
    client_order_id: str
    symbol: str
    side: Side
    qty: Decimal | None = None
    notional: Decimal | None = None

    def __post_init__(self) -> None:
        if (self.qty is None) == (self.notional is None):
            raise ValueError("exactly one of qty and notional must be set")


@dataclass(frozen=True, slots=True)
class Order:
    id: str
    account_id: str
    client_order_id: str
    symbol: str
    side: Side
    qty: Decimal | None
    notional: Decimal | None
    status: OrderStatus
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime
    filled_qty: Decimal = Decimal(0)
    filled_avg_price: Decimal | None = None
    filled_at: datetime | None = None
    expired_at: datetime | None = None
    canceled_at: datetime | None = None
    failed_at: datetime | None = None
    reject_reason: str | None = None
    # The simulator's fill plan, decided at acceptance: which fraction of the order fills, when.
    fill_ratio: Decimal = Decimal(1)
    fill_due_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


# --- events (past tense); the trade-update name Alpaca uses is kept beside each one -----------


@dataclass(frozen=True, slots=True)
class OrderAccepted:
    at: datetime


@dataclass(frozen=True, slots=True)
class OrderRejected:
    at: datetime
    reason: str


@dataclass(frozen=True, slots=True)
class OrderPartiallyFilled:
    at: datetime
    qty: Decimal
    price: Decimal


@dataclass(frozen=True, slots=True)
class OrderFilled:
    at: datetime
    qty: Decimal
    price: Decimal


@dataclass(frozen=True, slots=True)
class OrderCanceled:
    at: datetime


@dataclass(frozen=True, slots=True)
class OrderExpired:
    at: datetime


OrderEvent = (
    OrderAccepted
    | OrderRejected
    | OrderPartiallyFilled
    | OrderFilled
    | OrderCanceled
    | OrderExpired
)
FillEvent = OrderPartiallyFilled | OrderFilled

TRADE_UPDATE_NAMES: dict[type[OrderEvent], str] = {
    OrderAccepted: "new",
    OrderRejected: "rejected",
    OrderPartiallyFilled: "partial_fill",
    OrderFilled: "fill",
    OrderCanceled: "canceled",
    OrderExpired: "expired",
}

_S = OrderStatus
TRANSITIONS: dict[tuple[OrderStatus, type[OrderEvent]], OrderStatus] = {
    (_S.NEW, OrderPartiallyFilled): _S.PARTIALLY_FILLED,
    (_S.ACCEPTED, OrderPartiallyFilled): _S.PARTIALLY_FILLED,
    (_S.PARTIALLY_FILLED, OrderPartiallyFilled): _S.PARTIALLY_FILLED,
    (_S.NEW, OrderFilled): _S.FILLED,
    (_S.ACCEPTED, OrderFilled): _S.FILLED,
    (_S.PARTIALLY_FILLED, OrderFilled): _S.FILLED,
    (_S.NEW, OrderCanceled): _S.CANCELED,
    (_S.ACCEPTED, OrderCanceled): _S.CANCELED,
    (_S.PARTIALLY_FILLED, OrderCanceled): _S.CANCELED,
    (_S.NEW, OrderExpired): _S.EXPIRED,
    (_S.ACCEPTED, OrderExpired): _S.EXPIRED,
    (_S.PARTIALLY_FILLED, OrderExpired): _S.EXPIRED,
    (_S.NEW, OrderRejected): _S.REJECTED,
    (_S.ACCEPTED, OrderRejected): _S.REJECTED,
}


class IllegalTransition(ValueError):
    def __init__(self, status: OrderStatus, event: OrderEvent) -> None:
        super().__init__(f"order in {status.value!r} state cannot take {type(event).__name__}")
        self.status = status
        self.event = event


def new_order(
    request: OrderRequest,
    order_id: str,
    now: datetime,
    fill_ratio: Decimal = Decimal(1),
    fill_due_at: datetime | None = None,
) -> tuple[Order, OrderAccepted]:
    order = Order(
        id=order_id,
        account_id=request.account_id,
        client_order_id=request.client_order_id,
        symbol=request.symbol,
        side=request.side,
        qty=request.qty,
        notional=request.notional,
        status=OrderStatus.NEW,
        created_at=now,
        updated_at=now,
        submitted_at=now,
        fill_ratio=fill_ratio,
        fill_due_at=fill_due_at,
    )
    return order, OrderAccepted(at=now)


def rejected_order(
    request: OrderRequest, order_id: str, now: datetime, reason: str
) -> tuple[Order, OrderRejected]:
    """An order refused at submission: stored (so it can be looked up) but never open."""
    accepted, _ = new_order(request, order_id, now)
    event = OrderRejected(at=now, reason=reason)
    return apply(accepted, event), event


def apply(order: Order, event: OrderEvent) -> Order:
    target = TRANSITIONS.get((order.status, type(event)))
    if target is None:
        raise IllegalTransition(order.status, event)
    moved = replace(order, status=target, updated_at=event.at)
    match event:
        case OrderPartiallyFilled() | OrderFilled():
            return _with_execution(moved, event)
        case OrderCanceled():
            return replace(moved, canceled_at=event.at, fill_due_at=None)
        case OrderExpired():
            return replace(moved, expired_at=event.at, fill_due_at=None)
        case OrderRejected():
            return replace(moved, failed_at=event.at, reject_reason=event.reason, fill_due_at=None)
        case _:
            return moved


def _with_execution(order: Order, fill: FillEvent) -> Order:
    if fill.qty <= 0:
        raise ValueError("an execution must have a positive quantity")
    previous_qty = order.filled_qty
    total_qty = previous_qty + fill.qty
    if order.filled_avg_price is None or previous_qty == 0:
        average = fill.price
    else:
        average = quantize_price(
            (order.filled_avg_price * previous_qty + fill.price * fill.qty) / total_qty
        )
    return replace(
        order,
        filled_qty=total_qty,
        filled_avg_price=average,
        filled_at=fill.at if isinstance(fill, OrderFilled) else order.filled_at,
        fill_due_at=None,
    )
