"""Ports of the broker simulator: the store behind a unit of work, the price book, the clock."""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from types import TracebackType
from typing import Any, Protocol, Self

from rebal_broker_sim.domain.orders import Order, OrderStatus
from rebal_broker_sim.domain.quotes import Quote
from rebal_runtime.clock import Clock as Clock  # the one clock port, re-exported

JsonObject = dict[str, Any]


class PriceBook(Protocol):
    """Last price per symbol. The market.prices consumer writes through `set_price`."""

    async def set_price(
        self,
        symbol: str,
        price: Decimal,
        tradable: bool = True,
        fractionable: bool = True,
        as_of: datetime | None = None,
    ) -> None:
        """Record a price; one older than the stored one (by `as_of`) is ignored."""
        ...

    async def get_quote(self, symbol: str) -> Quote | None: ...


@dataclass(frozen=True, slots=True)
class TradeUpdate:
    """One trade-update event as stored and streamed (Alpaca field names)."""

    event_id: int
    at: datetime
    account_id: str
    event: str
    order: JsonObject
    qty: Decimal | None = None
    price: Decimal | None = None
    position_qty: Decimal | None = None


@dataclass(frozen=True, slots=True)
class OrderRequestRecord:
    """Every order submission the simulator received, whatever became of it."""

    seq: int
    received_at: datetime
    account_id: str
    client_order_id: str | None
    symbol: str | None
    outcome: str
    http_status: int
    order_id: str | None


class OrderRepository(abc.ABC):
    @abc.abstractmethod
    async def add(self, order: Order) -> None: ...

    @abc.abstractmethod
    async def save(self, order: Order) -> None: ...

    @abc.abstractmethod
    async def get(self, order_id: str) -> Order | None: ...

    @abc.abstractmethod
    async def by_client_order_id(self, account_id: str, client_order_id: str) -> Order | None: ...

    @abc.abstractmethod
    async def select(
        self,
        account_id: str | None = None,
        statuses: frozenset[OrderStatus] | None = None,
        limit: int | None = None,
    ) -> list[Order]:
        """Oldest first."""

    @abc.abstractmethod
    async def due_for_fill(self, now: datetime) -> list[Order]: ...

    @abc.abstractmethod
    async def next_fill_due_after(self, now: datetime) -> datetime | None: ...


class TradeEventLog(abc.ABC):
    @abc.abstractmethod
    async def append(
        self,
        at: datetime,
        account_id: str,
        event: str,
        order: JsonObject,
        qty: Decimal | None = None,
        price: Decimal | None = None,
        position_qty: Decimal | None = None,
    ) -> int:
        """Store the event and return its id (monotonically increasing, never reused)."""

    @abc.abstractmethod
    async def after(
        self,
        since_id: int,
        until_id: int | None = None,
        account_id: str | None = None,
        limit: int = 500,
    ) -> list[TradeUpdate]: ...

    @abc.abstractmethod
    async def last_id(self) -> int: ...


class RequestLog(abc.ABC):
    @abc.abstractmethod
    async def record(
        self,
        received_at: datetime,
        account_id: str,
        client_order_id: str | None,
        symbol: str | None,
        outcome: str,
        http_status: int,
        order_id: str | None = None,
    ) -> int: ...

    @abc.abstractmethod
    async def all(self) -> list[OrderRequestRecord]: ...


class PriceTable(abc.ABC):
    @abc.abstractmethod
    async def get(self, symbol: str) -> Quote | None: ...

    @abc.abstractmethod
    async def put(self, quote: Quote) -> None: ...

    @abc.abstractmethod
    async def all(self) -> list[Quote]: ...


class AccountLedger(abc.ABC):
    """Positions per account and, for accounts given one, a cash balance (buying power)."""

    @abc.abstractmethod
    async def position(self, account_id: str, symbol: str) -> Decimal: ...

    @abc.abstractmethod
    async def add_to_position(self, account_id: str, symbol: str, delta: Decimal) -> Decimal: ...

    @abc.abstractmethod
    async def cash(self, account_id: str) -> Decimal | None:
        """None: the account has no cash limit."""

    @abc.abstractmethod
    async def set_cash(self, account_id: str, cash: Decimal | None) -> None: ...

    @abc.abstractmethod
    async def add_to_cash(self, account_id: str, delta: Decimal) -> None:
        """No-op for an account without a cash limit."""

    @abc.abstractmethod
    async def all_cash(self) -> dict[str, Decimal]: ...


class UnitOfWork(abc.ABC):
    """One atomic, serialized unit of work: changes are visible only after `commit`."""

    orders: OrderRepository
    trade_events: TradeEventLog
    requests: RequestLog
    prices: PriceTable
    accounts: AccountLedger

    async def __aenter__(self) -> Self:
        await self._begin()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Anything not committed explicitly is rolled back: a half-done submit leaves no trace.
        await self._rollback_and_release()

    @abc.abstractmethod
    async def _begin(self) -> None: ...

    @abc.abstractmethod
    async def commit(self) -> None: ...

    @abc.abstractmethod
    async def _rollback_and_release(self) -> None: ...


UnitOfWorkFactory = Callable[[], UnitOfWork]
