"""Value types of the order-router domain: sides, statuses, close reasons, trade date."""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from enum import StrEnum
from zoneinfo import ZoneInfo

# US equities trade on New York time: a fill at 2024-03-08T01:30Z belongs to trade date 2024-03-07.
NEW_YORK: tzinfo = ZoneInfo("America/New_York")


class OrderSide(StrEnum):
    """Alpaca's spelling, so the value goes to the broker unchanged."""

    BUY = "buy"
    SELL = "sell"


class OrderStatus(StrEnum):
    """Lifecycle of one order, mirroring Alpaca's order statuses.

    PENDING_SUBMIT exists because the intent is stored before it is sent (docs/design.md §4); an order in
    it may or may not have reached the broker, so it is resolved by a lookup, never by a guess.
    NOT_EXECUTED is ours (InvestSuite's movement status): the intent was abandoned and the broker
    provably never had it (run canceled before the leg was sent, confirmed by a lookup). It is
    published as an order.closed with status `canceled` (the run cancel closed the leg).
    """

    PENDING_SUBMIT = "pending_submit"
    SUBMITTED = "submitted"  # Alpaca: pending_new / accepted / new
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    EXPIRED = "expired"
    REJECTED = "rejected"
    NOT_EXECUTED = "not_executed"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL

    @property
    def is_open_at_broker(self) -> bool:
        """The broker holds it and it can still change: the orders a run cancel must cancel."""
        return self in (OrderStatus.SUBMITTED, OrderStatus.PARTIALLY_FILLED)


_TERMINAL = frozenset(
    {
        OrderStatus.FILLED,
        OrderStatus.CANCELED,
        OrderStatus.EXPIRED,
        OrderStatus.REJECTED,
        OrderStatus.NOT_EXECUTED,
    }
)


class CloseReason(StrEnum):
    """Why an order ended without a full fill (the `reason` of order.closed)."""

    REJECTED = "rejected"
    EXPIRED = "expired"
    CANCELED = "canceled"
    NOT_EXECUTED = "not_executed"


CLOSE_REASON_BY_STATUS: dict[OrderStatus, CloseReason] = {
    OrderStatus.REJECTED: CloseReason.REJECTED,
    OrderStatus.EXPIRED: CloseReason.EXPIRED,
    OrderStatus.CANCELED: CloseReason.CANCELED,
    OrderStatus.NOT_EXECUTED: CloseReason.CANCELED,  # a leg a run cancel kept from being sent
}


def require_aware(at: datetime, what: str = "timestamp") -> datetime:
    """Naive datetimes are refused: a trade date computed from one would silently be wrong."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got {at!r}")
    return at


def trade_date_of(filled_at: datetime, market_tz: tzinfo = NEW_YORK) -> date:
    """Trade date of an execution: its calendar date in the market's time zone."""
    return require_aware(filled_at, "fill timestamp").astimezone(market_tz).date()
