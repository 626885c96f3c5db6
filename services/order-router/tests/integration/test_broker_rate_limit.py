"""The router against a broker that limits requests (the simulator's `rate_limit_per_minute`,
answered like Alpaca: 429 + Retry-After), in-process over the real embedded Kafka.

- Above the limit (router 240/min, broker 120/min): the broker refuses some requests, the router
  holds every call for the Retry-After and sends the refused ones again; every order ends
  filled, none rejected, each placed once.
- Within it with room to spare (router 30/min, broker 60/min): no 429 at all.

No assertion depends on timing: the 429s come from a backlog sent at twice the broker's rate,
and the second case leaves a full second of slack between requests."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from rebal_order_router.bootstrap import bootstrap
from rebal_runtime.embedded import EmbeddedKafka
from rebal_runtime.testing.kafka import TopicReader
from rebal_runtime.topics_admin import ensure_topics
from rebal_schemas import OrderClosed, OrderFilled

from ..conftest import SimulatorProcess, publish, ready, router_settings  # type: ignore[import-not-found]

pytestmark = pytest.mark.kafka

PRICES = {"AAPL": "200", "MSFT": "400"}


def runs(prefix: str, count: int) -> dict[str, list[tuple[int, str, str, str]]]:
    return {
        f"{prefix}-{n}": [(1, "AAPL", "sell", "2"), (2, "MSFT", "buy", "1")] for n in range(count)
    }


async def execute(
    bootstrap_servers: str,
    tmp_path: Path,
    simulator: SimulatorProcess,
    plans: dict[str, list[tuple[int, str, str, str]]],
    router_per_minute: float,
) -> tuple[dict[tuple[str, int], OrderFilled], list[OrderClosed], int, int]:
    """Run `plans` through a router at `router_per_minute`; returns the final fills, the
    order.closed of these runs, and the 429s the router saw and the requests it sent."""
    await ensure_topics(bootstrap_servers)
    settings = router_settings(
        bootstrap_servers,
        tmp_path,
        simulator,
        broker_requests_per_minute=router_per_minute,
        reconcile_seconds=30.0,  # its lookups are requests too: kept out of the count
    )
    router = bootstrap(settings)
    legs = sum(len(orders) for orders in plans.values())

    def final_fills(events: list[object]) -> dict[tuple[str, int], OrderFilled]:
        return {
            (e.run_id, e.leg): e
            for e in events
            if isinstance(e, OrderFilled) and e.run_id in plans and e.status == "filled"
        }

    async with (
        router.runtime.running(),
        TopicReader(bootstrap_servers, "order.filled") as fills,
        TopicReader(bootstrap_servers, "order.closed") as closes,
    ):
        await publish(bootstrap_servers, *(ready(run_id, o) for run_id, o in plans.items()))
        await fills.wait_for(lambda events: len(final_fills(events)) == legs, timeout=180)
        await closes.settle(0.5)
    closed = [e for e in closes.events() if isinstance(e, OrderClosed) and e.run_id in plans]
    return final_fills(fills.events()), closed, router.broker.rate_limited, router.broker.requests


def placed_once(simulator: SimulatorProcess, plans: dict[str, object]) -> Counter[str]:
    """Outcomes of the order requests the broker got for these runs; asserts each order was
    accepted exactly once."""
    requests = [
        r
        for r in simulator.admin_orders()["requests"]
        if any(
            r["client_order_id"] and r["client_order_id"].startswith(f"rebal-{run}-")
            for run in plans
        )
    ]
    accepted = Counter(r["client_order_id"] for r in requests if r["outcome"] == "accepted")
    assert set(accepted.values()) == {1}
    return Counter(r["outcome"] for r in requests)


async def test_above_the_brokers_limit_429s_are_honoured_and_every_order_fills(
    fresh_kafka: EmbeddedKafka, tmp_path: Path, simulator: SimulatorProcess
) -> None:
    simulator.set_prices(PRICES)
    simulator.configure(rate_limit_per_minute=120)  # two a second
    plans = runs("run-limited", 10)

    fills, closed, router_429s, _ = await execute(
        fresh_kafka.bootstrap_servers, tmp_path, simulator, plans, router_per_minute=240
    )

    assert len(fills) == 20  # every leg of the 10 runs filled in full
    assert [c for c in closed if str(c.status) == "rejected"] == []
    assert closed == []  # nothing expired or canceled either
    outcomes = placed_once(simulator, plans)
    assert outcomes["accepted"] == 20 and outcomes["rate_limited"] > 0
    # the router saw the broker's refusals (a refusal whose answer it never got is not counted)
    broker_429s = simulator.admin_orders()["rate_limited_requests"]
    assert 0 < router_429s <= broker_429s


async def test_within_the_brokers_limit_the_router_never_meets_a_429(
    fresh_kafka: EmbeddedKafka, tmp_path: Path, simulator: SimulatorProcess
) -> None:
    simulator.set_prices(PRICES)
    simulator.configure(rate_limit_per_minute=60)  # one a second
    plans = runs("run-within", 2)

    fills, closed, router_429s, requests = await execute(
        fresh_kafka.bootstrap_servers, tmp_path, simulator, plans, router_per_minute=30
    )

    assert len(fills) == 4 and closed == []
    assert router_429s == 0 and requests >= 4  # the submits, and the stream connect
    assert simulator.admin_orders()["rate_limited_requests"] == 0
    assert placed_once(simulator, plans) == Counter(accepted=4)
