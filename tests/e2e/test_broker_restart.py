"""Broker loss is loud and recoverable (issue #17, item 6).

The whole stack runs PLATFORM portfolios; while their funding runs are in flight (the simulator
fills only after a delay) the Kafka broker is SIGKILLed. Every service must notice (its ready
file goes), the launcher's supervision must notice the dead broker and restart it (Tansu comes
back empty, Apache Kafka with its log), and then: every run that was ready completes, every topic
has its configured partition count, every partition of every subscribed topic is assigned to a
member of its service's consumer group, and every ready file is back.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from rebal_demo.driver import DemoOptions, Driver
from rebal_demo.scenario import plan_portfolios

from rebal_runtime.stack import Stack
from rebal_runtime.topics_admin import configured_topics, refusing_auto_creation
from rebal_schemas import BrokerIntegration

from .conftest import logs

pytestmark = [pytest.mark.kafka, pytest.mark.fault, pytest.mark.slow]

ASYNCAPI = Path(__file__).resolve().parents[2] / "docs" / "asyncapi"


def subscriptions() -> dict[str, tuple[str, ...]]:
    """Each service's consumed topics, from its committed AsyncAPI document (every channel but
    the `topic:publish` ones)."""
    consumed: dict[str, tuple[str, ...]] = {}
    for doc in sorted(ASYNCAPI.glob("*.json")):
        channels = json.loads(doc.read_text())["channels"]
        consumed[doc.stem] = tuple(c.split(":")[0] for c in channels if not c.endswith(":publish"))
    return consumed


SUBSCRIPTIONS = subscriptions()


async def until(condition: Callable[[], bool], what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not within {timeout}s: {what}")
        await asyncio.sleep(0.1)


def stored_ids(db: Path, collection: str) -> set[str]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
        rows = conn.execute("SELECT id FROM documents WHERE collection = ?", (collection,))
        return {row[0] for row in rows}


def outbox_rows(db: Path) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
        return int(conn.execute("SELECT count(*) FROM outbox").fetchone()[0])


def simulator_config(stack: Stack, **changes: object) -> None:
    url = f"http://127.0.0.1:{stack.simulator_port}/admin/config"
    headers = stack.simulator_admin_headers()
    httpx.post(url, json=changes, headers=headers, timeout=10).raise_for_status()


async def topic_partitions(bootstrap: str) -> dict[str, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics([name for name, _ in configured_topics()])
        return {t["topic"]: len(t["partitions"]) for t in described if t["error_code"] == 0}
    finally:
        await admin.close()


async def committed(bootstrap: str, group: str, tps: list[TopicPartition]) -> dict[Any, int]:
    # The group's own OffsetFetch, as its members send it (Tansu drops the connection on the
    # admin client's, and panics on DescribeGroups); the consumer joins no group.
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        found = {tp: await consumer.committed(tp) for tp in tps}
        return {tp: offset for tp, offset in found.items() if offset is not None}
    finally:
        await consumer.stop()


async def unconsumed(bootstrap: str) -> dict[str, list[str]]:
    """group -> the partitions (of the topics it subscribes) whose records it has not all
    committed: a partition no member consumes keeps its lag for ever."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        configured = dict(configured_topics())
        behind: dict[str, list[str]] = {}
        for group, topics in SUBSCRIPTIONS.items():
            tps = [TopicPartition(t, p) for t in topics for p in range(configured[t])]
            ends = await consumer.end_offsets(tps)
            done = await committed(bootstrap, group, tps)
            late = [
                f"{tp.topic}[{tp.partition}] {done.get(tp)}/{end}"
                for tp, end in sorted(ends.items())
                if end > 0 and done.get(tp, -1) < end
            ]
            if late:
                behind[group] = late
        return behind
    finally:
        await consumer.stop()


def test_a_run_in_flight_survives_a_broker_restart(stack: Stack) -> None:
    plans = [p for p in plan_portfolios(24, seed=11) if p.broker == BrokerIntegration.PLATFORM]
    ready_files = [stack.ready_file(p) for p in stack.processes if p.module != "rebal_broker_sim"]
    bootstrap = stack.kafka.bootstrap_servers
    seen_gone: set[Path] = set()

    async def scenario() -> Driver:
        options = DemoOptions(price_ticks=1, quiet_seconds=4.0, phase_timeout=240)
        async with Driver(bootstrap, plans, options, lambda *_: None) as driver:
            await driver.setup()
            simulator_config(stack, fill_delay_ms=8000)  # the runs stay open a while
            funding = asyncio.create_task(driver.funding())
            # Kill once the runs are in flight: every ready run is stored by the order-router and
            # the settlement-tracker, the optimizer has nothing left to publish, and no new run
            # came for a moment. (An optimization.ready the broker loses before they read it is
            # the stale-block alarm's case, not this test's.)
            var = stack.var_dir
            last: list[tuple[int, float]] = [(0, time.monotonic())]

            def in_flight() -> bool:
                readies = set(driver.client.readies)
                if len(readies) != last[0][0]:
                    last[0] = (len(readies), time.monotonic())
                return (
                    bool(readies)
                    and time.monotonic() - last[0][1] > 1.5
                    and outbox_rows(var / "optimizer.sqlite") == 0
                    and readies <= stored_ids(var / "order-router.sqlite", "executions")
                    and readies <= stored_ids(var / "settlement-tracker.sqlite", "runs")
                )

            await until(in_flight, "runs in flight")
            await asyncio.to_thread(stack.kill_broker)

            def all_gone() -> bool:
                seen_gone.update(f for f in ready_files if not f.exists())
                return len(seen_gone) == len(ready_files)

            await until(all_gone, "every service says it is not ready", timeout=60)
            assert await asyncio.to_thread(stack.supervise_broker)  # noticed, restarted
            simulator_config(stack, fill_delay_ms=0)
            await funding
        return driver

    # The test's own clients must not auto-create a topic either (the driver reconnects too).
    async def guarded() -> Driver:
        return await refusing_auto_creation(scenario())

    driver = asyncio.run(guarded())
    stack.wait_ready(120)  # every ready file is back

    client = driver.client
    assert client.readies, "no run started"
    missing = set(client.readies) - set(client.completed)
    assert not missing, f"{len(missing)} runs never completed: {sorted(missing)[:5]}\n{logs(stack)}"

    assert asyncio.run(topic_partitions(bootstrap)) == dict(configured_topics())

    # every partition is consumed to its end (commits follow the handlers by a moment)
    async def all_consumed() -> dict[str, list[str]]:
        deadline = time.monotonic() + 60
        while (behind := await unconsumed(bootstrap)) and time.monotonic() < deadline:  # noqa: ASYNC110 - polled: no event for "committed"
            await asyncio.sleep(0.5)
        return behind

    assert asyncio.run(all_consumed()) == {}, logs(stack)
