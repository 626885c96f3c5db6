"""One Transaction per order leg, with InvestSuite movement statuses.

PLANNED → EXECUTED (partially or fully) → SETTLED, or PLANNED / partially EXECUTED →
NOT_EXECUTED | EXPIRED | CANCELLED for the remainder. A transaction closed after a partial fill
keeps its executed part, which still settles (``settled_on`` is set, the status stays closed):
InvestSuite models that as an EXECUTED→SETTLED movement next to the CANCELLED one.

Events carry CUMULATIVE quantities, so a replayed or stale fill is recognised by its quantity
and rejected with ``DuplicateFill`` (a no-op for callers) before the transition table is read.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from rebal_settlement_tracker.domain.errors import (
    DuplicateClose,
    DuplicateFill,
    IllegalTransition,
    InvalidEvent,
)
from rebal_settlement_tracker.domain.order_ref import OrderRef

ZERO: Final = Decimal(0)


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class TransactionStatus(StrEnum):
    PLANNED = "PLANNED"
    EXECUTED = "EXECUTED"
    SETTLED = "SETTLED"
    NOT_EXECUTED = "NOT_EXECUTED"
    EXPIRED = "EXPIRED"
    CANCELLED = "CANCELLED"


CLOSED_STATUSES: Final = frozenset(
    {TransactionStatus.NOT_EXECUTED, TransactionStatus.EXPIRED, TransactionStatus.CANCELLED}
)


class CloseReason(StrEnum):
    """Why an order ended without (full) fill, as order.closed reports it (Alpaca spelling)."""

    REJECTED = "rejected"
    EXPIRED = "expired"
    CANCELED = "canceled"
    NOT_EXECUTED = "not_executed"


class TransactionEventKind(StrEnum):
    FILLED_PARTIALLY = "FILLED_PARTIALLY"
    FILLED_FULLY = "FILLED_FULLY"
    CLOSED_NOT_EXECUTED = "CLOSED_NOT_EXECUTED"
    CLOSED_EXPIRED = "CLOSED_EXPIRED"
    CLOSED_CANCELLED = "CLOSED_CANCELLED"
    SETTLED = "SETTLED"


def require_aware(moment: datetime, name: str) -> None:
    # Facts are ordered by time; mixing naive and aware datetimes would crash that comparison.
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidEvent(f"{name} must be timezone-aware, got {moment!r}")


@dataclass(frozen=True)
class OrderFilled:
    """An execution report: everything filled so far (cumulative) at its average price."""

    cum_qty: Decimal
    avg_price: Decimal
    trade_date: date
    executed_at: datetime
    fully_filled: bool = False  # the broker says the order is done (Alpaca status ``filled``)
    ref: OrderRef | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.cum_qty <= ZERO:
            raise InvalidEvent(f"cum_qty must be > 0, got {self.cum_qty}")
        if self.avg_price <= ZERO:
            raise InvalidEvent(f"avg_price must be > 0, got {self.avg_price}")
        require_aware(self.executed_at, "executed_at")


@dataclass(frozen=True)
class OrderClosed:
    """The order ended; ``cum_qty`` is what had been filled when it ended (may be 0)."""

    reason: CloseReason
    cum_qty: Decimal
    closed_at: datetime
    ref: OrderRef | None = field(default=None, compare=False)
    note: str | None = field(default=None, compare=False)  # why the tracker closed it itself
    # closed by the order-router because the run was canceled: the run's end is the router's
    # stop, not this close (`execution.awaits_stop`)
    run_canceled: bool = False

    def __post_init__(self) -> None:
        if self.cum_qty < ZERO:
            raise InvalidEvent(f"cum_qty must be >= 0, got {self.cum_qty}")
        require_aware(self.closed_at, "closed_at")


@dataclass(frozen=True)
class TransactionSettled:
    """Trade date + settlement cycle has been reached on ``settled_on``."""

    settled_on: date


TransactionEvent = OrderFilled | OrderClosed | TransactionSettled

_S = TransactionStatus
_K = TransactionEventKind
_CLOSE_TARGET: Final = {
    _K.CLOSED_NOT_EXECUTED: _S.NOT_EXECUTED,
    _K.CLOSED_EXPIRED: _S.EXPIRED,
    _K.CLOSED_CANCELLED: _S.CANCELLED,
}


def _build_transitions() -> dict[tuple[TransactionStatus, TransactionEventKind], TransactionStatus]:
    table: dict[tuple[TransactionStatus, TransactionEventKind], TransactionStatus] = {}
    for open_status in (_S.PLANNED, _S.EXECUTED):
        table[(open_status, _K.FILLED_PARTIALLY)] = _S.EXECUTED
        table[(open_status, _K.FILLED_FULLY)] = _S.EXECUTED
        for close_kind, closed_status in _CLOSE_TARGET.items():
            table[(open_status, close_kind)] = closed_status
    table[(_S.EXECUTED, _K.SETTLED)] = _S.SETTLED
    for closed_status in CLOSED_STATUSES:
        # A fill reported after the close belongs to the executed part: the status stays closed,
        # unless it shows the order actually filled completely (the close raced the last fill).
        table[(closed_status, _K.FILLED_PARTIALLY)] = closed_status
        table[(closed_status, _K.FILLED_FULLY)] = _S.EXECUTED
        table[(closed_status, _K.SETTLED)] = closed_status  # the executed part settles
    return table


#: (current status, event kind) → new status. Anything absent is an IllegalTransition.
TRANSITIONS: Final = MappingProxyType(_build_transitions())

_CLOSE_KIND: Final = {
    CloseReason.REJECTED: _K.CLOSED_NOT_EXECUTED,
    CloseReason.NOT_EXECUTED: _K.CLOSED_NOT_EXECUTED,
    CloseReason.EXPIRED: _K.CLOSED_EXPIRED,
    CloseReason.CANCELED: _K.CLOSED_CANCELLED,
}


@dataclass(frozen=True)
class Transaction:
    """Immutable; ``apply`` returns a new Transaction."""

    leg: int
    symbol: str
    side: Side
    planned_qty: Decimal | None = None
    planned_notional: Decimal | None = None
    asset_class: str = "us_equity"
    status: TransactionStatus = TransactionStatus.PLANNED
    fill: OrderFilled | None = None  # best-known cumulative fill
    close: OrderClosed | None = None
    settled_on: date | None = None

    @property
    def filled_qty(self) -> Decimal:
        return self.fill.cum_qty if self.fill else ZERO

    @property
    def avg_price(self) -> Decimal | None:
        return self.fill.avg_price if self.fill else None

    @property
    def trade_date(self) -> date | None:
        return self.fill.trade_date if self.fill else None

    @property
    def executed_at(self) -> datetime | None:
        return self.fill.executed_at if self.fill else None

    @property
    def close_reason(self) -> CloseReason | None:
        return self.close.reason if self.close else None

    @property
    def is_fully_executed(self) -> bool:
        if self.fill is None:
            return False
        if self.fill.fully_filled:
            return True
        # Notional legs have no planned quantity: only the broker's flag tells they are done.
        return self.planned_qty is not None and self.fill.cum_qty >= self.planned_qty

    @property
    def is_closed(self) -> bool:
        return self.status in CLOSED_STATUSES

    @property
    def executed_part_known(self) -> bool:
        """False while a close reported more filled quantity than the fills seen so far."""
        return self.close is None or self.filled_qty >= self.close.cum_qty

    @property
    def is_settleable(self) -> bool:
        if self.settled_on is not None or self.fill is None:
            return False
        if self.status is TransactionStatus.EXECUTED:
            # An open partial fill waits: settling it would need a second settlement later.
            return self.is_fully_executed
        return self.is_closed and self.executed_part_known

    @property
    def is_order_final(self) -> bool:
        """The order is done (run.completed waits for this): fully executed, or closed with its
        executed part known."""
        if self.status in (TransactionStatus.EXECUTED, TransactionStatus.SETTLED):
            return self.is_fully_executed
        return self.is_closed and self.executed_part_known

    @property
    def is_final(self) -> bool:
        """The transaction is done (run.settled waits for this): SETTLED, or its order ended with
        nothing executed or with its executed part settled."""
        if self.status is TransactionStatus.SETTLED:
            return True
        if not self.is_closed or not self.executed_part_known:
            return False
        return self.filled_qty == ZERO or self.settled_on is not None

    def event_kind(self, event: TransactionEvent) -> TransactionEventKind:
        """Classify ``event``; raises Duplicate* when it adds nothing to this transaction."""
        if isinstance(event, OrderFilled):
            known = self.filled_qty
            upgrades_flag = event.fully_filled and not self.is_fully_executed
            if event.cum_qty < known or (event.cum_qty == known and not upgrades_flag):
                raise DuplicateFill(
                    f"leg {self.leg}: cum_qty {event.cum_qty} not greater than known {known}"
                )
            completes = event.fully_filled or (
                self.planned_qty is not None and event.cum_qty >= self.planned_qty
            )
            return _K.FILLED_FULLY if completes else _K.FILLED_PARTIALLY
        if isinstance(event, OrderClosed):
            if self.is_fully_executed:
                raise DuplicateClose(f"leg {self.leg}: order fully filled, close is moot")
            if event == self.close:
                raise DuplicateClose(f"leg {self.leg}: close already known")
            return _CLOSE_KIND[event.reason]
        return _K.SETTLED

    def apply(self, event: TransactionEvent) -> Transaction:
        kind = self.event_kind(event)
        target = TRANSITIONS.get((self.status, kind))
        if target is None:
            raise IllegalTransition(f"leg {self.leg}: {kind} is not allowed in {self.status}")
        if isinstance(event, OrderFilled):
            if self.settled_on is not None:
                raise IllegalTransition(f"leg {self.leg}: executed part already settled")
            return replace(self, status=target, fill=event)
        if isinstance(event, OrderClosed):
            return replace(self, status=target, close=event)
        return self._settled(event, target)

    def _settled(self, event: TransactionSettled, target: TransactionStatus) -> Transaction:
        if not self.is_settleable:
            raise IllegalTransition(
                f"leg {self.leg}: nothing to settle yet (status {self.status}, "
                f"filled {self.filled_qty}, fully executed {self.is_fully_executed})"
            )
        assert self.fill is not None  # is_settleable guarantees a fill
        if event.settled_on < self.fill.trade_date:
            raise IllegalTransition(f"leg {self.leg}: settles before its trade date")
        return replace(self, status=target, settled_on=event.settled_on)

    @classmethod
    def planned(
        cls,
        leg: int,
        symbol: str,
        side: Side,
        *,
        qty: Decimal | None = None,
        notional: Decimal | None = None,
        asset_class: str = "us_equity",
    ) -> Transaction:
        return cls(leg, symbol, side, qty, notional, asset_class)
