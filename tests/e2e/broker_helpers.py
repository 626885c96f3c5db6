"""What the run-lifecycle e2e tests share: the simulator's admin API, runs published as the
optimizer publishes them, cancels as a client sends them, and waiting for a condition."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import httpx
from rebal_demo.__main__ import window_opening_soon
from rebal_demo.scenario import INITIAL_PRICES

from rebal_client.kafka import Publisher, wait_until_consumed
from rebal_runtime.stack import Stack
from rebal_schemas import (
    BrokerIntegration,
    Event,
    Mandate,
    OptimizationReady,
    OptimizerMode,
    PlannedOrder,
    PortfolioSettingsChanged,
    PriceUpdated,
    RunCancelRequested,
    RunType,
)

from .conftest import logs


def night_router() -> dict[str, dict[str, str]]:
    """`service_overrides` of a stack whose order-router lives at night on New York's calendar
    (its clock six hours before a 09:30 opening): a run it reads waits QUEUED for the window."""
    return {"order-router": window_opening_soon(lead=timedelta(hours=6))}


def platform_account(account: str) -> tuple[Event, ...]:
    """The demo's prices and a DISCRETIONARY PLATFORM account whose rebal portfolio is its own
    id (as the api makes one from an Alpaca account UUID)."""
    now = datetime.now(UTC)
    return (
        *(PriceUpdated(symbol=s, price=p, as_of=now) for s, p in INITIAL_PRICES.items()),
        PortfolioSettingsChanged(
            portfolio_id=account,
            account_id=account,
            mandate=Mandate.DISCRETIONARY,
            broker_integration=BrokerIntegration.PLATFORM,
            optimizer=OptimizerMode.PLATFORM,
        ),
    )


def ready(run_id: str, *orders: tuple[int, str, str, str, str]) -> OptimizationReady:
    """A PLATFORM run as the optimizer publishes it; orders: (leg, symbol, side, qty, price)."""
    return OptimizationReady(
        event_id=f"ready-{run_id}",
        optimization_id=run_id,
        portfolio_id=f"pf-{run_id}",
        account_id=f"acct-{run_id}",
        run_type=RunType.full_rebalance,
        broker_integration=BrokerIntegration.PLATFORM,
        orders=tuple(
            PlannedOrder(
                leg=leg,
                symbol=symbol,
                side=side,  # type: ignore[arg-type]
                qty=Decimal(qty),
                expected_price=Decimal(price),
            )
            for leg, symbol, side, qty, price in orders
        ),
        correlation_id=run_id,
        producer="optimizer",
    )


def cancel(run_id: str, reason: str = "owner canceled") -> RunCancelRequested:
    return RunCancelRequested(
        event_id=f"cancel-{run_id}",
        run_id=run_id,
        portfolio_id=f"pf-{run_id}",
        reason=reason,
        producer="client",
    )


async def publish(bootstrap: str, *events: Event) -> None:
    async with Publisher(bootstrap) as publisher:
        await publisher.publish_many(events)


async def publish_consumed(bootstrap: str, *events: Event) -> None:
    """Publish, then wait until the optimizer's group has read all of it."""
    async with Publisher(bootstrap) as publisher:
        ends = await publisher.publish_tracked(events)
    await wait_until_consumed(bootstrap, "optimizer", ends, timeout=120)


def simulator(stack: Stack, method: str, path: str, body: Any = None) -> Any:
    """The broker simulator's admin API (prices, fill behaviour, orders, end of day)."""
    url = f"http://127.0.0.1:{stack.simulator_port}{path}"
    headers = stack.simulator_admin_headers()
    response = httpx.request(method, url, json=body, headers=headers, timeout=10)
    response.raise_for_status()
    return response.json()


def restart_router(stack: Stack, clock: datetime) -> None:
    """The order-router stopped and started again with its clock at `clock` (dev profile's
    REBAL_CLOCK_START_AT); its runs, queued or started, are in its store."""
    router = stack.process("order-router")
    router.stop()
    router.env["REBAL_CLOCK_START_AT"] = clock.isoformat()
    stack.restart("order-router")
    stack.wait_ready()


def broker_orders(stack: Stack) -> dict[str, dict[str, Any]]:
    """Every order the broker holds, by client_order_id."""
    return {o["client_order_id"]: o for o in simulator(stack, "GET", "/admin/orders")["orders"]}


async def until(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not within {timeout}s: {what}")
        await asyncio.sleep(0.05)


T = TypeVar("T")


def eventually(read: Callable[[], T | None], what: str, stack: Stack, timeout: float = 120) -> T:
    """Poll `read` (a synchronous look, e.g. over HTTP) until it gives something; the stack's
    logs in the failure."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = read()
        if found is not None:
            return found
        time.sleep(0.3)
    raise AssertionError(f"no {what} after {timeout}s\n{logs(stack)}")


def of(events: list[Event], kind: type[Event], run_id: str) -> list[Any]:
    return [e for e in events if isinstance(e, kind) and getattr(e, "run_id", None) == run_id]
