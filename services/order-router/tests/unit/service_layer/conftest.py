"""Fixtures of the service-layer tests: the in-memory store, a fake clock, and a hand-written
fake broker implementing BrokerPort with Alpaca's semantics (a client_order_id is unique
forever, orders are looked up by it) plus knobs for outages, lost replies and rejections."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from rebal_order_router.adapters.price_store import PriceStore
from rebal_order_router.adapters.run_store import RunStore
from rebal_order_router.domain import (
    NEW_YORK,
    BrokerOrder,
    BrokerUnavailable,
    DuplicateClientOrderId,
    ExecutionWindow,
    OrderRejected,
    OrderSide,
    RetryPolicy,
    TradeUpdate,
)
from rebal_order_router.service_layer.context import RouterContext
from rebal_runtime.clock import FakeClock
from rebal_runtime.store import InMemoryStore
from rebal_runtime.testing.calendars import nyse_2026
from rebal_schemas import (
    BrokerIntegration,
    Event,
    OptimizationReady,
    PlannedOrder,
    RunType,
    decode,
)

T0 = datetime(2024, 7, 1, 14, 0, tzinfo=UTC)  # 10:00 in New York, trade date 2024-07-01
NIGHT = datetime(2026, 3, 10, 2, 0, tzinfo=NEW_YORK)  # a Tuesday, 02:00: the nightly batch
OPENING = datetime(2026, 3, 10, 9, 30, tzinfo=NEW_YORK)  # that session's window opens
_TERMINAL = {"filled", "canceled", "expired", "rejected"}


class FakeBroker:
    """BrokerPort fake. `mode` per symbol: fill (at once), accept (rests open), partial (half
    fills, rests open), reject (refused with 403)."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.orders: dict[str, BrokerOrder] = {}
        self.calls: list[tuple[str, str]] = []  # (method, client_order_id or order id)
        self.updates: list[TradeUpdate] = []
        self.prices: dict[str, Decimal] = {
            "AAPL": Decimal("200"),
            "MSFT": Decimal("400"),
            "VTI": Decimal("250"),
        }
        self.mode: dict[str, str] = {}
        self.down = 0  # the next N calls fail before reaching the broker
        self.lose_replies = 0  # the next N accepted submits lose their answer
        self.reject_message = "insufficient buying power"
        self.stream_batch: int | None = None  # updates per stream batch (None: all in one)
        self._ids = 0

    # -- BrokerPort -------------------------------------------------------------------------
    async def submit_order(
        self,
        account_id: str,
        client_order_id: str,
        symbol: str,
        side: OrderSide,
        *,
        qty: Decimal | None = None,
        notional: Decimal | None = None,
    ) -> BrokerOrder:
        self.calls.append(("submit", client_order_id))
        self._maybe_down()
        if client_order_id in self.orders:
            raise DuplicateClientOrderId(40010001, "client_order_id must be unique")
        mode = self.mode.get(symbol, "fill")
        if mode == "reject":
            raise OrderRejected(403, 40310000, self.reject_message)
        self._ids += 1
        order = BrokerOrder(
            id=f"B{self._ids}",
            client_order_id=client_order_id,
            symbol=symbol,
            side=side.value,
            status="accepted",
            qty=qty,
            notional=notional,
            created_at=self.clock.now(),
            updated_at=self.clock.now(),
        )
        self.orders[client_order_id] = order
        self._emit("new", order)
        full = qty if qty is not None else (notional or Decimal(0)) / self.prices[symbol]
        if mode == "fill":
            self.fill(client_order_id, full)
        elif mode == "partial":
            self.fill(client_order_id, full / 2)
        if self.lose_replies:
            self.lose_replies -= 1
            raise BrokerUnavailable("POST orders: timed out (the order was stored)")
        return self.orders[client_order_id]

    async def get_order_by_client_order_id(
        self, account_id: str, client_order_id: str
    ) -> BrokerOrder | None:
        self.calls.append(("lookup", client_order_id))
        self._maybe_down()
        return self.orders.get(client_order_id)

    async def cancel_order(self, account_id: str, order_id: str) -> None:
        self.calls.append(("cancel", order_id))
        self._maybe_down()
        order = next(o for o in self.orders.values() if o.id == order_id)
        if order.status in _TERMINAL:
            raise OrderRejected(422, 42210000, f'order is already in "{order.status}" state')
        self._set(order, status="canceled", canceled_at=self.clock.now(), event="canceled")

    async def stream_trade_updates(
        self, since_id: str | None = None
    ) -> AsyncIterator[Sequence[TradeUpdate]]:
        """Everything after since_id (None: from the beginning) in batches of `stream_batch`
        (None: one batch), then the stream ends."""
        self.calls.append(("stream", since_id or ""))
        self._maybe_down()
        after = [u for u in self.updates if since_id is None or int(u.event_id) > int(since_id)]
        size = self.stream_batch or max(1, len(after))
        for start in range(0, len(after), size):
            yield after[start : start + size]

    # -- test controls ----------------------------------------------------------------------
    def fill(self, client_order_id: str, qty: Decimal, price: Decimal | None = None) -> None:
        """A further execution of `qty` shares (cumulative quantity grows)."""
        order = self.orders[client_order_id]
        price = price if price is not None else self.prices[order.symbol]
        total = order.filled_qty + qty
        average = (order.filled_qty * (order.filled_avg_price or Decimal(0)) + qty * price) / total
        full = order.qty if order.qty is not None else (order.notional or Decimal(0)) / price
        done = total >= full
        self._set(
            order,
            status="filled" if done else "partially_filled",
            filled_qty=total,
            filled_avg_price=average,
            filled_at=self.clock.now() if done else None,
            event="fill" if done else "partial_fill",
        )

    def expire(self, client_order_id: str) -> None:
        order = self.orders[client_order_id]
        self._set(order, status="expired", expired_at=self.clock.now(), event="expired")

    def submits(self, client_order_id: str | None = None) -> list[str]:
        return [c for m, c in self.calls if m == "submit" and client_order_id in (None, c)]

    def _set(self, order: BrokerOrder, event: str, **changes: Any) -> None:
        updated = replace(order, updated_at=self.clock.now(), **changes)
        self.orders[order.client_order_id] = updated
        self._emit(event, updated)

    def _emit(self, event: str, order: BrokerOrder) -> None:
        self.updates.append(
            TradeUpdate(
                event_id=str(len(self.updates) + 1),
                event=event,
                at=self.clock.now(),
                account_id="acct-1",
                order=order,
                timestamp=self.clock.now(),
            )
        )

    def _maybe_down(self) -> None:
        if self.down:
            self.down -= 1
            raise BrokerUnavailable("connect error (injected)")


def ready_event(
    run_id: str = "opt-1",
    orders: tuple[tuple[int, str, str, str], ...] = (
        (1, "AAPL", "sell", "5"),
        (2, "MSFT", "buy", "2"),
    ),
    integration: BrokerIntegration = BrokerIntegration.PLATFORM,
    portfolio_id: str = "pf-1",
    expected: dict[str, str] | None = None,
) -> OptimizationReady:
    """orders: (leg, symbol, side, qty); a qty starting with '$' is a notional; `expected`:
    the plan's expected price per symbol."""
    prices = expected or {}
    planned = tuple(
        PlannedOrder(
            leg=leg,
            symbol=symbol,
            side=side,  # type: ignore[arg-type]
            qty=None if size.startswith("$") else Decimal(size),
            notional=Decimal(size[1:]) if size.startswith("$") else None,
            expected_price=Decimal(prices[symbol]) if symbol in prices else None,
        )
        for leg, symbol, side, size in orders
    )
    return OptimizationReady(
        optimization_id=run_id,
        portfolio_id=portfolio_id,
        account_id="acct-1",
        run_type=RunType.full_rebalance,
        broker_integration=integration,
        orders=planned,
        correlation_id=run_id,
        producer="optimizer",
    )


def published(store: InMemoryStore) -> list[Event]:
    """Every event waiting in the outbox, decoded."""
    return [decode(m.topic, m.value) for m in store.outbox_messages()]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


@pytest.fixture
def broker(clock: FakeClock) -> FakeBroker:
    return FakeBroker(clock)


@pytest.fixture
def ctx(store: InMemoryStore, broker: FakeBroker, clock: FakeClock) -> RouterContext:
    no_wait = RetryPolicy(max_attempts=4, base_delay=0.0, max_delay=0.0, jitter=0.0)
    return RouterContext(
        runs=RunStore(store),
        broker=broker,
        producer="order-router",
        clock=clock,
        retry_policy=no_wait,
    )


@pytest.fixture
def window_ctx(ctx: RouterContext, store: InMemoryStore, clock: FakeClock) -> RouterContext:
    """The router on the NYSE 2026 window (09:30-15:30 New York) at 02:00 New York, with its
    price store: ready runs queue."""
    clock.set(NIGHT)
    ctx.window = ExecutionWindow(nyse_2026())
    ctx.prices = PriceStore(store)
    return ctx


@pytest.fixture
def make_ready() -> Callable[..., OptimizationReady]:
    return ready_event


@pytest.fixture
def outbox(store: InMemoryStore) -> Callable[[], list[Event]]:
    return lambda: published(store)
