"""Builders of the settlement-tracker's input events, shared by unit, integration and e2e tests."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

import pytest

from rebal_schemas import (
    BrokerIntegration,
    CloseReason,
    OptimizationReady,
    OrderClosed,
    OrderFilled,
    OrderSide,
    PlannedOrder,
    RunCancelRequested,
    RunExecutionQueued,
    RunExecutionStarted,
    RunExecutionStopped,
    RunType,
    SkippedOrder,
)

SELL_AAPL = PlannedOrder(leg=0, symbol="AAPL", side=OrderSide.sell, qty=Decimal(10))
BUY_MSFT = PlannedOrder(leg=1, symbol="MSFT", side=OrderSide.buy, qty=Decimal(4))
BUY_VTI = PlannedOrder(leg=2, symbol="VTI", side=OrderSide.buy, notional=Decimal("1000.00"))
DEFAULT_ORDERS = (SELL_AAPL, BUY_MSFT, BUY_VTI)


def market_time(day: date, hour: int = 15, minute: int = 0) -> datetime:
    """A moment during the New York session of `day` (15:00 UTC is 10:00 or 11:00 in New York)."""
    return datetime.combine(day, time(hour, minute), tzinfo=UTC)


@dataclass
class RunEvents:
    """The events of one run, as the optimizer and the order-router (or the client) send them."""

    run_id: str
    portfolio_id: str
    orders: tuple[PlannedOrder, ...] = DEFAULT_ORDERS
    skipped: tuple[SkippedOrder, ...] = ()
    broker_integration: BrokerIntegration = BrokerIntegration.PLATFORM
    account_id: str = "acct-1"

    def order(self, leg: int) -> PlannedOrder:
        return next(o for o in self.orders if o.leg == leg)

    def ready(self, **overrides: Any) -> OptimizationReady:
        fields: dict[str, Any] = {
            "optimization_id": self.run_id,
            "portfolio_id": self.portfolio_id,
            "account_id": self.account_id,
            "run_type": RunType.full_rebalance,
            "broker_integration": self.broker_integration,
            "orders": self.orders,
            "skipped_orders": self.skipped,
            "producer": "optimizer",
            "correlation_id": self.run_id,
        }
        fields.update(overrides)
        return OptimizationReady(**fields)

    def filled(
        self,
        leg: int,
        qty: str,
        price: str,
        trade_date: date,
        *,
        final: bool = True,
        at: datetime | None = None,
        **overrides: Any,
    ) -> OrderFilled:
        order = self.order(leg) if any(o.leg == leg for o in self.orders) else None
        fields: dict[str, Any] = {
            "run_id": self.run_id,
            "portfolio_id": self.portfolio_id,
            "leg": leg,
            "client_order_id": f"{self.run_id}-{leg}",
            "symbol": order.symbol if order else "ZZZ",
            "side": order.side if order else OrderSide.buy,
            "filled_qty": Decimal(qty),
            "filled_avg_price": Decimal(price),
            "trade_date": trade_date,
            "filled_at": at or market_time(trade_date),
            "status": "filled" if final else "partially_filled",
            "producer": "order-router",
            "correlation_id": self.run_id,
        }
        fields.update(overrides)
        return OrderFilled(**fields)

    def closed(
        self,
        leg: int,
        reason: CloseReason,
        at: datetime,
        *,
        filled_qty: str = "0",
        price: str | None = None,
        **overrides: Any,
    ) -> OrderClosed:
        order = self.order(leg)
        fields: dict[str, Any] = {
            "run_id": self.run_id,
            "portfolio_id": self.portfolio_id,
            "leg": leg,
            "client_order_id": f"{self.run_id}-{leg}",
            "symbol": order.symbol,
            "side": order.side,
            "status": reason,
            "filled_qty": Decimal(filled_qty),
            "filled_avg_price": Decimal(price) if price else None,
            "closed_at": at,
            "producer": "order-router",
            "correlation_id": self.run_id,
        }
        fields.update(overrides)
        return OrderClosed(**fields)

    def queued(self, starts_at: datetime, **overrides: Any) -> RunExecutionQueued:
        return RunExecutionQueued(**self._execution(starts_at=starts_at, **overrides))

    def started(self, at: datetime, **overrides: Any) -> RunExecutionStarted:
        return RunExecutionStarted(**self._execution(started_at=at, **overrides))

    def stopped(
        self, outcome: str, at: datetime, *, reason: str = "", **overrides: Any
    ) -> RunExecutionStopped:
        """`outcome`: canceled, canceled_mid_run or replan; `causation_id=` the cancel's id."""
        fields = self._execution(outcome=outcome, stopped_at=at, reason=reason, **overrides)
        return RunExecutionStopped(**fields)

    def _execution(self, **fields: Any) -> dict[str, Any]:
        """What the order-router's run.execution reports carry."""
        return {
            "run_id": self.run_id,
            "portfolio_id": self.portfolio_id,
            "producer": "order-router",
            "correlation_id": self.run_id,
            **fields,
        }

    def cancel(self, **overrides: Any) -> RunCancelRequested:
        fields: dict[str, Any] = {
            "run_id": self.run_id,
            "portfolio_id": self.portfolio_id,
            "reason": "client changed its mind",
            "producer": "api",
            "correlation_id": self.run_id,
        }
        fields.update(overrides)
        return RunCancelRequested(**fields)


RunEventsFactory = Callable[..., RunEvents]


@pytest.fixture
def run_events() -> RunEventsFactory:
    def make(**kwargs: Any) -> RunEvents:
        suffix = uuid.uuid4().hex[:8]
        kwargs.setdefault("run_id", f"run-{suffix}")
        kwargs.setdefault("portfolio_id", f"pf-{suffix}")
        return RunEvents(**kwargs)

    return make
