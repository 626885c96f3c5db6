"""One demo day over every flow on the compose topology as processes (tests/e2e/test_demo_day.py's
day and assertions), plus what two instances sharing a store must not do: publish one outbox row
twice, or send one order to the broker twice. With no fault injected, every event id is on
`optimization.ready` and `run.completed` once (the relays claim rows with a lease; a re-publish is
only allowed after a crash), and the broker gets each client_order_id once (the order-routers
dispatch a run under its store lease, one instance at a time)."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from pathlib import Path

import pytest
from aiokafka.errors import TopicAuthorizationFailedError
from rebal_demo.driver import DemoOptions, Driver
from rebal_demo.scenario import plan_portfolios

from rebal_client.kafka import Publisher
from rebal_runtime.apache_kafka import repo_root
from rebal_runtime.prodlike import ProdLikeStack
from rebal_schemas import Event, OptimizationReady, decode

from ..e2e.demo_day_checks import assert_demo_day
from .conftest import demo_kafka, logs, read_to_end, repeated_ids, simulator_admin

pytestmark = [
    pytest.mark.prodlike,
    pytest.mark.kafka,
    pytest.mark.apache_kafka,
    pytest.mark.slow,
    pytest.mark.timeout(600),
]

# What the services publish through their outboxes (order.filled / order.closed also come from the
# CLIENT middleware the driver plays, so they are counted by the order-router's own records only).
OUTBOX_TOPICS = (
    "optimization.created",
    "optimization.ready",
    "order.filled",
    "order.closed",
    "transaction.settled",
    "run.completed",
)


def test_one_demo_day_over_every_flow(prodlike: ProdLikeStack) -> None:
    plans = plan_portfolios(48, seed=11)

    async def day() -> tuple[Driver, dict[str, list[Event]]]:
        options = DemoOptions(price_ticks=3, quiet_seconds=2.5, phase_timeout=240)
        # Every party of the day as its own client role: the ACLs allow the real flows.
        async with Driver(demo_kafka(prodlike), plans, options, lambda *_: None) as driver:
            await driver.setup()
            await driver.funding()
            await driver.market_move()
            await driver.withdrawals()
        published = {topic: await read_to_end(prodlike, topic) for topic in OUTBOX_TOPICS}
        return driver, published

    driver, published = asyncio.run(day())
    assert_demo_day(driver, logs(prodlike))
    client = driver.client
    runs = list(client.completed.values())

    # Two relays per store, no fault: no outbox row published twice.
    ours = {
        topic: [e for e in events if not e.producer.startswith("demo")]
        for topic, events in published.items()
    }
    figures = {
        topic: (len(events), len({e.event_id for e in events})) for topic, events in ours.items()
    }
    admin = simulator_admin(prodlike, "/admin/orders")
    print(
        f"\nprod-like demo day: {len(runs)} runs completed ({len(client.readies)} ready), "
        f"{len(admin['orders'])} broker orders, {len(admin['requests'])} order requests, "
        f"{admin['duplicate_requests']} refused as duplicates; records/distinct event ids: "
        + ", ".join(f"{t} {n}/{d}" for t, (n, d) in figures.items())
    )
    # Two order-routers, one store: each order reaches the broker once (one request per id).
    requested = Counter(r["client_order_id"] for r in admin["requests"] if r["client_order_id"])
    assert admin["duplicate_requests"] == 0, admin["outcomes"]
    assert [coid for coid, n in requested.items() if n > 1] == []
    assert repeated_ids(ours["optimization.ready"]) == {}, figures
    assert repeated_ids(ours["run.completed"]) == {}, figures
    assert {t: repeated_ids(events) for t, events in ours.items() if repeated_ids(events)} == {}, (
        figures
    )


GOLDEN = Path(repo_root(Path(__file__).resolve().parent) or ".") / "libs/schemas/tests/golden/v1"


def test_a_client_cannot_write_optimization_ready(prodlike: ProdLikeStack) -> None:
    """On the running topology the broker refuses a client's optimization.ready (orders the
    order-router would execute), though it claims to come from the optimizer; nothing lands. The
    same principal's own writes (portfolios, deposits, decisions) carried the demo day above."""
    golden = decode("optimization.ready", (GOLDEN / "optimization.ready.json").read_bytes())
    forged = golden.model_copy(
        update={"event_id": f"forged-{uuid.uuid4()}", "producer": "optimizer"}
    )
    assert isinstance(forged, OptimizationReady)
    client = demo_kafka(prodlike).roles["client"]
    assert client.username == "client"

    async def attempt() -> list[Event]:
        async with Publisher(client) as publisher:
            with pytest.raises(TopicAuthorizationFailedError):
                await publisher.publish(forged)
        return await read_to_end(prodlike, "optimization.ready")

    landed = asyncio.run(attempt())
    assert forged.event_id not in {e.event_id for e in landed}
