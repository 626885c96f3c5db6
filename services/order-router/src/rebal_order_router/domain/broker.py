"""What an Alpaca-compatible broker reports (order snapshots, trade updates) and how each maps
onto an `OrderEvent`. Pure: the adapter parses JSON into these values, the domain interprets them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from rebal_order_router.domain.events import OrderEvent, OrderEventKind


@dataclass(frozen=True)
class BrokerOrder:
    """Alpaca order object, the fields the router uses (names as in Alpaca)."""

    id: str
    client_order_id: str
    symbol: str
    side: str
    status: str
    qty: Decimal | None = None
    notional: Decimal | None = None
    filled_qty: Decimal = Decimal(0)
    filled_avg_price: Decimal | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    submitted_at: datetime | None = None
    filled_at: datetime | None = None
    canceled_at: datetime | None = None
    expired_at: datetime | None = None
    failed_at: datetime | None = None
    # Not in Alpaca's documented order object, but the simulator (and some Alpaca responses)
    # say why an order was rejected; the reason travels on order.closed when present.
    reject_reason: str | None = None


@dataclass(frozen=True)
class TradeUpdate:
    """One trade event of Alpaca's `/v2/events/trades` stream.

    `qty`/`price` are THIS execution's; the cumulative figures are in `order`. `timestamp` is
    the execution time on fills, `at` the event time.
    """

    event_id: str
    event: str
    at: datetime
    account_id: str
    order: BrokerOrder
    qty: Decimal | None = None
    price: Decimal | None = None
    timestamp: datetime | None = None
    execution_id: str | None = None


# Alpaca statuses of an order the broker holds that may still fill (we never replace orders,
# so `replaced`/`pending_replace` are unexpected and ignored rather than guessed at).
_OPEN_STATUSES = frozenset(
    {
        "pending_new",
        "accepted",
        "new",
        "accepted_for_bidding",
        "held",
        "pending_cancel",
        "done_for_day",
        "stopped",
        "suspended",
        "calculated",
    }
)

_TERMINAL_STATUS_KIND = {
    "filled": OrderEventKind.FILLED,
    "canceled": OrderEventKind.CANCELED,
    "expired": OrderEventKind.EXPIRED,
    "rejected": OrderEventKind.REJECTED,
}

_TRADE_EVENT_KIND = {
    "pending_new": OrderEventKind.ACCEPTED,
    "accepted": OrderEventKind.ACCEPTED,
    "new": OrderEventKind.ACCEPTED,
    "partial_fill": OrderEventKind.PARTIALLY_FILLED,
    "fill": OrderEventKind.FILLED,
    "canceled": OrderEventKind.CANCELED,
    "expired": OrderEventKind.EXPIRED,
    "rejected": OrderEventKind.REJECTED,
}


def _snapshot_time(order: BrokerOrder, kind: OrderEventKind, observed_at: datetime) -> datetime:
    by_kind = {
        OrderEventKind.FILLED: order.filled_at,
        OrderEventKind.CANCELED: order.canceled_at,
        OrderEventKind.EXPIRED: order.expired_at,
        OrderEventKind.REJECTED: order.failed_at,
    }
    return by_kind.get(kind) or order.updated_at or observed_at


def event_from_broker_order(order: BrokerOrder, observed_at: datetime) -> OrderEvent | None:
    """Interpret an order snapshot (submit response or lookup) as a report; None if unknown.

    The snapshot's own timestamps are preferred; `observed_at` (the caller's clock) is the
    fallback. A partial fill learned from a snapshot is dated by `updated_at`, the best the
    snapshot offers.
    """
    status = order.status.lower()
    if status in _TERMINAL_STATUS_KIND:
        kind = _TERMINAL_STATUS_KIND[status]
    elif status == "partially_filled" or (status in _OPEN_STATUSES and order.filled_qty > 0):
        kind = OrderEventKind.PARTIALLY_FILLED
    elif status in _OPEN_STATUSES:
        kind = OrderEventKind.ACCEPTED
    else:
        return None
    return OrderEvent(
        kind=kind,
        at=_snapshot_time(order, kind, observed_at),
        broker_order_id=order.id,
        filled_qty=order.filled_qty,
        filled_avg_price=order.filled_avg_price,
        reason=_rejection_reason(order, f"broker status {status}")
        if kind is OrderEventKind.REJECTED
        else "",
    )


def _rejection_reason(order: BrokerOrder, fallback: str) -> str:
    return f"{fallback}: {order.reject_reason}" if order.reject_reason else fallback


def event_from_trade_update(update: TradeUpdate) -> OrderEvent | None:
    """Interpret a stream event as a report; None for events that change nothing we track
    (done_for_day, pending_cancel, order_cancel_rejected, replaced, ...)."""
    kind = _TRADE_EVENT_KIND.get(update.event.lower())
    if kind is None:
        return None
    is_fill = kind in (OrderEventKind.FILLED, OrderEventKind.PARTIALLY_FILLED)
    # a fill is dated by its execution time when the event carries one
    at = (update.timestamp if is_fill else None) or update.at
    return OrderEvent(
        kind=kind,
        at=at,
        broker_order_id=update.order.id,
        filled_qty=update.order.filled_qty,
        filled_avg_price=update.order.filled_avg_price,
        reason=_rejection_reason(update.order, f"broker event {update.event}")
        if kind is OrderEventKind.REJECTED
        else (f"broker event {update.event}" if kind is not OrderEventKind.ACCEPTED else ""),
    )
