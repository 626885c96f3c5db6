"""Start the simulator as a real subprocess (`python -m rebal_broker_sim`) and talk HTTP to it."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

AUTH = ("sim-key", "sim-secret")
DEFAULT_CONFIG = {
    "latency_ms": 0,
    "fill_mode": "immediate",
    "partial_fill_ratio": "0.5",
    "fill_delay_ms": 0,
    "reject_symbols": [],
    "reject_unknown_symbols": True,
    "fail_next_n_requests": 0,
    "drop_next_n_responses": 0,
    "drop_response_after_accept": False,
    "rate_limit_per_minute": 0,
}
STARTUP_WAIT_SECONDS = 30.0


@dataclass
class RunningSimulator:
    process: subprocess.Popen[bytes]
    base_url: str
    db: Path
    log: Path

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)


def start_simulator(workdir: Path, db: Path, *extra_args: str) -> RunningSimulator:
    run_id = uuid.uuid4().hex[:8]
    port_file = workdir / f"port-{run_id}"
    log = workdir / f"sim-{run_id}.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "rebal_broker_sim",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--db",
                str(db),
                "--port-file",
                str(port_file),
                *extra_args,
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + STARTUP_WAIT_SECONDS
    while not port_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"simulator did not start:\n{log.read_text()}")
        time.sleep(0.05)
    port = int(port_file.read_text())
    return RunningSimulator(process, f"http://127.0.0.1:{port}", db, log)


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSimulator]:
    workdir = tmp_path_factory.mktemp("broker-sim")
    running = start_simulator(workdir, workdir / "sim.sqlite")
    yield running
    running.stop()


@pytest.fixture
def client(sim: RunningSimulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.base_url, auth=AUTH, timeout=20.0) as http:
        yield http
        # Every test starts from the default behaviour, whatever it changed.
        http.post("/admin/config", json=DEFAULT_CONFIG).raise_for_status()


class BrokerApi:
    """Test-side helper over one simulator, one HTTP client and one fresh account."""

    def __init__(self, http: httpx.Client, account_id: str) -> None:
        self.http = http
        self.account_id = account_id
        self.orders_path = f"/v1/trading/accounts/{account_id}/orders"

    def set_prices(self, **prices: str) -> None:
        body = {"prices": [{"symbol": s, "price": p} for s, p in prices.items()]}
        self.http.post("/admin/prices", json=body).raise_for_status()

    def configure(self, **changes: Any) -> dict[str, Any]:
        response = self.http.post("/admin/config", json=changes)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def submit(self, **order: Any) -> httpx.Response:
        return self.http.post(self.orders_path, json=order_body(**order))

    def by_client_order_id(self, client_order_id: str) -> httpx.Response:
        return self.http.get(
            f"{self.orders_path}:by_client_order_id", params={"client_order_id": client_order_id}
        )

    def admin(self) -> dict[str, Any]:
        response = self.http.get("/admin/orders")
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def my_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.admin()["requests"] if r["account_id"] == self.account_id]

    def my_events(self) -> list[dict[str, Any]]:
        response = self.http.get(
            "/v2/events/trades/poll", params={"since_id": "0", "account_id": self.account_id}
        )
        response.raise_for_status()
        events: list[dict[str, Any]] = response.json()["events"]
        return events

    wait_for = staticmethod(lambda check, what, seconds=20.0: wait_for(check, what, seconds))

    def read_sse(
        self,
        enough: Callable[[list[dict[str, Any]]], bool],
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        while_open: Callable[[], None] | None = None,
    ) -> list[dict[str, Any]]:
        return read_sse(self.http, enough, params, headers, while_open)


@pytest.fixture
def api(client: httpx.Client) -> BrokerApi:
    return BrokerApi(client, str(uuid.uuid4()))


@pytest.fixture
def simulator_factory(tmp_path: Path) -> Iterator[Callable[..., RunningSimulator]]:
    """Start extra simulators (own database, own args); all are stopped after the test."""
    started: list[RunningSimulator] = []

    def start(db: Path, *extra_args: str) -> RunningSimulator:
        running = start_simulator(tmp_path, db, *extra_args)
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


def order_body(
    symbol: str = "AAPL",
    side: str = "buy",
    qty: str | None = None,
    notional: str | None = None,
    client_order_id: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "symbol": symbol,
        "side": side,
        "type": "market",
        "time_in_force": "day",
        "client_order_id": client_order_id or f"run-{uuid.uuid4().hex}:leg-0",
    }
    if qty is not None:
        body["qty"] = qty
    if notional is not None:
        body["notional"] = notional
    return body


def read_sse(
    http: httpx.Client,
    enough: Callable[[list[dict[str, Any]]], bool],
    params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    while_open: Callable[[], None] | None = None,
    max_events: int = 1000,
) -> list[dict[str, Any]]:
    """Read trade updates until `enough(events)`; each event gets its SSE `id` as `_sse_id`.

    `while_open` runs once the stream is connected (to cause events while listening).
    A stream that keeps repeating events fails at `max_events` instead of hanging.
    """
    events: list[dict[str, Any]] = []
    with http.stream("GET", "/v2/events/trades", params=params, headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        if while_open is not None:
            while_open()
        frame: dict[str, str] = {}
        for line in response.iter_lines():
            if line.startswith(":"):
                continue
            if line:
                field, _, value = line.partition(":")
                frame[field] = value.removeprefix(" ")
                continue
            if "data" in frame:
                event = json.loads(frame["data"])
                event["_sse_id"] = int(frame["id"])
                events.append(event)
                if enough(events):
                    return events
                assert len(events) < max_events, "the stream keeps sending events"
            frame = {}
    return events


def wait_for(check: Callable[[], bool], what: str, seconds: float = 20.0) -> None:
    """Bounded wait for something asynchronous (not a timing assertion)."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)
