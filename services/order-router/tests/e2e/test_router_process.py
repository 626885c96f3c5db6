"""`python -m rebal_order_router` as a real process: killed with SIGKILL mid-run and restarted,
and the broker (simulator process) down for a while. Every order reaches the broker once and
every fill is reported."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from rebal_runtime.embedded import EmbeddedKafka
from rebal_runtime.testing.kafka import TopicReader
from rebal_runtime.topics_admin import ensure_topics
from rebal_schemas import OrderFilled

from ..conftest import (  # type: ignore[import-not-found]
    SimulatorProcess,
    publish,
    ready,
    router_env,
    wait_until,
)

pytestmark = [pytest.mark.kafka, pytest.mark.fault]

SELLS = [(1, "AAPL", "sell", "3"), (2, "GOOG", "sell", "4"), (3, "AMZN", "sell", "5")]
BUYS = [(4, "MSFT", "buy", "2"), (5, "NVDA", "buy", "1")]
PRICES = {"AAPL": "200", "GOOG": "150", "AMZN": "180", "MSFT": "400", "NVDA": "120"}


class RouterProcess:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> RouterProcess:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "rebal_order_router"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        return self

    def kill(self) -> None:
        assert self.process is not None and self.process.poll() is None, self.log.read_text()
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return self.process.returncode


def stored_run(db: Path, run_id: str) -> dict[str, Any] | None:
    """The router's run document, read straight from its SQLite file (WAL: readers are fine)."""
    if not db.exists():
        return None
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
        try:
            row = conn.execute(
                "SELECT state FROM documents WHERE collection='executions' AND id=?", (run_id,)
            ).fetchone()
        except sqlite3.OperationalError:  # tables not created yet
            return None
    return orjson.loads(row[0]) if row else None


def lease_owner(db: Path, name: str) -> str | None:
    """The owner of a live-or-expired store lease, read straight from the SQLite file."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
        try:
            row = conn.execute("SELECT owner FROM leases WHERE name=?", (name,)).fetchone()
        except sqlite3.OperationalError:  # tables not created yet
            return None
    return str(row[0]) if row else None


def final_fills(events: list[object], run_id: str) -> dict[int, OrderFilled]:
    """The final fill per leg; distinct event ids for one leg would be a double report."""
    by_event_id = {
        e.event_id: e
        for e in events
        if isinstance(e, OrderFilled) and e.run_id == run_id and e.status == "filled"
    }
    legs: dict[int, OrderFilled] = {}
    for fill in by_event_id.values():
        assert fill.leg not in legs, f"leg {fill.leg} reported filled twice"
        legs[fill.leg] = fill
    return legs


def assert_each_order_once_at_the_broker(simulator: SimulatorProcess, run_id: str) -> None:
    orders = [
        o
        for o in simulator.admin_orders()["orders"]
        if o["client_order_id"].startswith(f"rebal-{run_id}-")
    ]
    ids = [o["client_order_id"] for o in orders]
    assert len(ids) == len(set(ids)) == len(SELLS) + len(BUYS)
    assert all(o["status"] == "filled" for o in orders)


@pytest.mark.parametrize(
    "where",
    [
        # the requests are in flight when the router dies: the simulator drops them with the
        # connection, the restarted router finds nothing by client_order_id and sends them
        "request_in_flight",
        # the broker accepted the orders but the answers were lost, and the router died while
        # waiting to look them up: the restarted router finds them and never sends them again
        "answer_lost",
    ],
)
async def test_sigkill_mid_run_then_restart_sends_each_order_once(
    fresh_kafka: EmbeddedKafka, tmp_path: Path, simulator: SimulatorProcess, where: str
) -> None:
    bootstrap = fresh_kafka.bootstrap_servers
    await ensure_topics(bootstrap)
    simulator.set_prices(PRICES)
    env = router_env(bootstrap, tmp_path, simulator, f"order-router-e2e-{where}")
    if where == "request_in_flight":
        # Every request lingers far longer than it takes to see the sends start and kill the
        # router, even on a loaded machine: the kill lands mid-send.
        simulator.configure(latency_ms=6000)
    else:
        simulator.configure(drop_response_after_accept=True)
    db = tmp_path / "order-router.sqlite"
    first_env = dict(env)
    if where == "answer_lost":
        # the first router waits long before its lookup, so the kill lands in that window, and
        # it does not follow the stream (which would tell it about the orders)
        first_env.update(
            REBAL_RETRY_BASE_DELAY_SECONDS="30",
            REBAL_RETRY_MAX_DELAY_SECONDS="30",
            REBAL_STREAM_ENABLED="false",
        )
    first = RouterProcess(first_env, tmp_path / "router-1.log").start()
    second = RouterProcess(env, tmp_path / "router-2.log")
    try:
        async with TopicReader(bootstrap, "order.filled") as topic:
            await publish(bootstrap, ready("run-kill", SELLS + BUYS))

            def sells_sent() -> bool:
                doc = stored_run(db, "run-kill")
                if doc is None or len(doc["attempted"]) < len(SELLS):
                    return False
                if where == "request_in_flight":
                    return True
                at_broker = simulator.admin_orders()["orders"]
                return len([o for o in at_broker if o["side"] == "sell"]) == len(SELLS)

            await wait_until(sells_sent, 60, "the sells are being sent")
            first.kill()
            doc = stored_run(db, "run-kill")
            assert doc is not None
            assert all(o["status"] == "pending_submit" for o in doc["orders"])  # nothing recorded

            simulator.reset()
            second.start()
            await topic.wait_for(
                lambda events: len(final_fills(events, "run-kill")) == len(SELLS) + len(BUYS),
                timeout=60,
            )
            await topic.settle(1.0)
            fills = final_fills(topic.events(), "run-kill")  # re-checks: no leg filled twice
    finally:
        first.stop()
        stopped = second.stop()  # (asserted below: a failure above must not be masked)
    assert stopped == 0, (tmp_path / "router-2.log").read_text()[-3000:]
    assert {leg: f.filled_qty for leg, f in fills.items()} == {
        leg: Decimal(qty) for leg, _, _, qty in SELLS + BUYS
    }
    assert_each_order_once_at_the_broker(simulator, "run-kill")
    log = (tmp_path / "router-2.log").read_text()
    resumed = "found at the broker" if where == "answer_lost" else "not at the broker"
    assert log.count(f"resumed order {resumed}") == len(SELLS)  # looked up before any re-send


async def test_broker_down_for_a_while_the_router_retries_and_completes(
    fresh_kafka: EmbeddedKafka, tmp_path: Path, simulator: SimulatorProcess
) -> None:
    bootstrap = fresh_kafka.bootstrap_servers
    await ensure_topics(bootstrap)
    simulator.set_prices(PRICES)
    env = router_env(bootstrap, tmp_path, simulator, "order-router-e2e-down")
    db = tmp_path / "order-router.sqlite"
    router = RouterProcess(env, tmp_path / "router.log").start()
    try:
        async with TopicReader(bootstrap, "order.filled") as topic:
            simulator.stop()  # the broker goes away before the run arrives
            await publish(bootstrap, ready("run-down", SELLS + BUYS))

            def sends_failing() -> bool:
                doc = stored_run(db, "run-down")
                return doc is not None and len(doc["attempted"]) == len(SELLS)

            await wait_until(sends_failing, 60, "the router tried to send")
            log = tmp_path / "router.log"
            await wait_until(lambda: "broker unreachable" in log.read_text(), 30, "retries")
            assert topic.events() == [] or final_fills(topic.events(), "run-down") == {}

            simulator.start()  # same SQLite file, same port
            await topic.wait_for(
                lambda events: len(final_fills(events, "run-down")) == len(SELLS) + len(BUYS),
                timeout=60,
            )
            await topic.settle(0.5)
            final_fills(topic.events(), "run-down")  # no leg filled twice
    finally:
        stopped = router.stop()  # (asserted below: a failure above must not be masked)
    assert stopped == 0, (tmp_path / "router.log").read_text()[-3000:]
    assert_each_order_once_at_the_broker(simulator, "run-down")


async def test_two_instances_sigkill_the_holder_and_the_twin_takes_the_run_over(
    fresh_kafka: EmbeddedKafka, tmp_path: Path, simulator: SimulatorProcess
) -> None:
    """Two router processes on one SQLite file (one consumer group). The one holding the run's
    lease is SIGKILLed with its sells in flight; its lease (2 s here) is no longer renewed, so
    the twin takes the run over seconds later, looks the sells up (the broker dropped them with
    the connection), sends them and the buys: each order reaches the broker once."""
    bootstrap = fresh_kafka.bootstrap_servers
    await ensure_topics(bootstrap)
    simulator.set_prices(PRICES)
    simulator.configure(latency_ms=6000)  # the requests are still in flight at the kill
    env = router_env(bootstrap, tmp_path, simulator, "order-router-e2e-twins")
    env["REBAL_RUN_LEASE_SECONDS"] = "2"
    db = tmp_path / "order-router.sqlite"
    routers = [RouterProcess(env, tmp_path / f"router-{n}.log").start() for n in (1, 2)]
    try:
        async with TopicReader(bootstrap, "order.filled") as topic:
            await publish(bootstrap, ready("run-twins", SELLS + BUYS))

            def sells_in_flight() -> bool:
                doc = stored_run(db, "run-twins")
                return doc is not None and len(doc["attempted"]) == len(SELLS)

            await wait_until(sells_in_flight, 60, "the sells are being sent")
            owner = lease_owner(db, "run:run-twins")
            assert owner is not None
            pid = int(owner.rsplit("-", 2)[1])  # <service>-<host>-<pid>-<random>
            [holder] = [r for r in routers if r.process is not None and r.process.pid == pid]
            [twin] = [r for r in routers if r is not holder]
            holder.kill()
            killed_at = time.monotonic()
            simulator.reset()
            await topic.wait_for(
                lambda events: len(final_fills(events, "run-twins")) == len(SELLS) + len(BUYS),
                timeout=60,
            )
            taken_over_in = time.monotonic() - killed_at
            await topic.settle(1.0)
            final_fills(topic.events(), "run-twins")  # no leg filled twice
    finally:
        stopped = [r.stop() for r in routers]
    assert stopped[routers.index(twin)] == 0, twin.log.read_text()[-3000:]
    assert taken_over_in < 20  # seconds, not minutes: the lease expired, nobody waited longer
    assert_each_order_once_at_the_broker(simulator, "run-twins")
    requests = [
        r["client_order_id"]
        for r in simulator.admin_orders()["requests"]
        if r["client_order_id"].startswith("rebal-run-twins-")
    ]
    assert len(requests) == len(set(requests)) == len(SELLS) + len(BUYS)  # each requested once
    log = twin.log.read_text()
    assert log.count("resumed order not at the broker") == len(SELLS)  # looked up first
