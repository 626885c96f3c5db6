"""Shared by the integration and e2e tests: the broker simulator as its OWN process
(`python -m rebal_broker_sim`), driven through its admin endpoints, and helpers to publish
optimization.ready and to wait for conditions."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from rebal_order_router.settings import RouterSettings
from rebal_runtime.embedded import free_port
from rebal_runtime.testing.pytest_plugin import settings_for
from rebal_schemas import (
    BrokerIntegration,
    Event,
    OptimizationReady,
    PlannedOrder,
    RunType,
    encode,
    key_of,
)


class SimulatorProcess:
    """The Alpaca Broker API simulator in a subprocess; restartable on the same SQLite file
    and port (a restart keeps its orders, like a real broker coming back)."""

    def __init__(self, db: Path, log: Path, *extra_args: str) -> None:
        self.db = db
        self.log = log
        self.extra_args = extra_args
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> SimulatorProcess:
        port_file = self.db.with_suffix(".port")
        port_file.unlink(missing_ok=True)
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "rebal_broker_sim",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--db",
                    str(self.db),
                    "--port-file",
                    str(port_file),
                    *self.extra_args,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"simulator exited with {self.process.returncode}: {self.log}")
            with contextlib.suppress(httpx.HTTPError):
                if port_file.exists() and httpx.get(f"{self.base_url}/health").is_success:
                    return self
            if time.monotonic() > deadline:
                raise TimeoutError("simulator did not come up")
            time.sleep(0.05)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None

    # -- admin endpoints --------------------------------------------------------------------
    def _admin(self, method: str, path: str, body: Any = None) -> Any:
        response = httpx.request(method, f"{self.base_url}{path}", json=body, timeout=10)
        response.raise_for_status()
        return response.json()

    def set_prices(self, prices: dict[str, str]) -> None:
        entries = [{"symbol": s, "price": p} for s, p in sorted(prices.items())]
        self._admin("POST", "/admin/prices", {"prices": entries})

    def configure(self, **config: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._admin("POST", "/admin/config", config)
        return result

    def reset(self) -> None:
        self.configure(
            latency_ms=0,
            fill_mode="immediate",
            reject_symbols=[],
            fail_next_n_requests=0,
            drop_response_after_accept=False,
        )

    def end_of_day(self) -> list[dict[str, Any]]:
        expired: list[dict[str, Any]] = self._admin("POST", "/admin/end-of-day")["expired"]
        return expired

    def admin_orders(self) -> dict[str, Any]:
        result: dict[str, Any] = self._admin("GET", "/admin/orders")
        return result


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[SimulatorProcess]:
    sim = SimulatorProcess(tmp_path / "broker-sim.sqlite", tmp_path / "broker-sim.log").start()
    try:
        yield sim
    finally:
        sim.stop()


def router_settings(
    bootstrap: str, tmp_path: Path, simulator: SimulatorProcess, **overrides: Any
) -> RouterSettings:
    base = settings_for(bootstrap, tmp_path, "order-router").model_dump()
    base.update(
        broker_base_url=simulator.base_url,
        broker_timeout_seconds=3.0,
        dispatch_poll_seconds=0.2,
        dispatch_backoff_max_seconds=0.5,
        reconcile_seconds=1.0,
        stream_reconnect_seconds=0.2,
        retry_base_delay_seconds=0.05,
        retry_max_delay_seconds=0.2,
        trading_calendar="ALWAYS_OPEN",  # runs start at once, at any hour (dev profile)
    )
    base.update(overrides)
    return RouterSettings(_env_file=None, **base)  # type: ignore[call-arg]


def ready(
    run_id: str,
    orders: list[tuple[int, str, str, str]],
    portfolio_id: str | None = None,
    account_id: str = "acct-1",
) -> OptimizationReady:
    """orders: (leg, symbol, side, qty)."""
    return OptimizationReady(
        optimization_id=run_id,
        portfolio_id=portfolio_id or f"pf-{run_id}",
        account_id=account_id,
        run_type=RunType.full_rebalance,
        broker_integration=BrokerIntegration.PLATFORM,
        orders=tuple(
            PlannedOrder(leg=leg, symbol=symbol, side=side, qty=Decimal(qty))  # type: ignore[arg-type]
            for leg, symbol, side, qty in orders
        ),
        correlation_id=run_id,
        producer="optimizer",
    )


async def publish(bootstrap: str, *messages: Event | tuple[bytes, bytes]) -> None:
    """Events (encoded, keyed as the topic says) or raw (key, value) pairs for optimization.ready."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for message in messages:
            if isinstance(message, Event):
                await producer.send_and_wait(
                    message.TOPIC, value=encode(message), key=key_of(message)
                )
            else:
                key, value = message
                await producer.send_and_wait("optimization.ready", value=value, key=key)
    finally:
        await producer.stop()


async def wait_until(
    predicate: Callable[[], Awaitable[bool] | bool], timeout: float = 30.0, what: str = ""
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met in {timeout}s: {what}")
        await asyncio.sleep(0.05)


def router_env(
    bootstrap: str, tmp_path: Path, simulator: SimulatorProcess, service: str
) -> dict[str, str]:
    """Environment of `python -m rebal_order_router` as a subprocess."""
    return {
        **os.environ,
        "REBAL_SERVICE_NAME": service,
        "REBAL_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "REBAL_STORE_URL": f"sqlite:///{tmp_path / 'order-router.sqlite'}",
        "REBAL_KAFKA_SESSION_TIMEOUT_MS": "2000",
        "REBAL_BROKER_BASE_URL": simulator.base_url,
        "REBAL_BROKER_TIMEOUT_SECONDS": "2",
        "REBAL_DISPATCH_POLL_SECONDS": "0.2",
        "REBAL_DISPATCH_BACKOFF_MAX_SECONDS": "0.5",
        "REBAL_RECONCILE_SECONDS": "1",
        "REBAL_STREAM_RECONNECT_SECONDS": "0.2",
        "REBAL_RETRY_BASE_DELAY_SECONDS": "0.05",
        "REBAL_RETRY_MAX_DELAY_SECONDS": "0.3",
        "REBAL_OUTBOX_POLL_SECONDS": "0.05",
        "REBAL_RETRY_BACKOFF_SECONDS": "0.01",
        "REBAL_RETRY_BACKOFF_MAX_SECONDS": "0.1",
        "REBAL_LOG_FORMAT": "json",
        "PYTHONUNBUFFERED": "1",
        "REBAL_PROFILE": "dev",  # ALWAYS_OPEN: runs start at once, at any hour
        "REBAL_TRADING_CALENDAR": "ALWAYS_OPEN",
    }
