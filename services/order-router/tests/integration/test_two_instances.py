"""Two order-router instances sharing ONE SQLite file and one consumer group (the `make prod-like`
pair), in-process over the real embedded Kafka, against the broker simulator process.

Both see every run: the one that consumed optimization.ready is woken, the other finds the run on
its `needs_dispatch` poll; both follow the trade-update stream, so the fill of a run's last sell
wakes both dispatchers for the buys. Every submit spends a moment in transit (a slow network), so
a twin that looked the order up in that moment would not find it and would submit too: the
broker would refuse the second request (duplicate client_order_id). The run's store lease keeps
the twin off while the other sends, so the broker gets each client_order_id once."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from rebal_order_router.bootstrap import OrderRouter, alpaca_client, bootstrap
from rebal_runtime.embedded import EmbeddedKafka
from rebal_runtime.testing.kafka import TopicReader
from rebal_runtime.topics_admin import ensure_topics
from rebal_schemas import OrderFilled

from ..conftest import SimulatorProcess, publish, ready, router_settings  # type: ignore[import-not-found]

pytestmark = pytest.mark.kafka

RUNS = {
    f"run-twins-{n}": [
        (1, "AAPL", "sell", "3"),
        (2, "GOOG", "sell", "2"),
        (3, "MSFT", "buy", "1"),
        (4, "NVDA", "buy", "2"),
    ]
    for n in range(3)
}
IN_TRANSIT_SECONDS = 0.5  # far longer than a wake-up of the twin plus a lookup


class SlowSubmits:
    """The broker client, with every submit `delay` seconds on its way to the broker."""

    def __init__(self, client: Any, delay: float) -> None:
        self._client = client
        self._delay = delay

    async def submit_order(self, *args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(self._delay)
        return await self._client.submit_order(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


async def test_two_instances_on_one_store_send_each_order_to_the_broker_once(
    fresh_kafka: EmbeddedKafka, tmp_path: Path, simulator: SimulatorProcess
) -> None:
    bootstrap_servers = fresh_kafka.bootstrap_servers
    await ensure_topics(bootstrap_servers)
    simulator.set_prices({"AAPL": "200", "GOOG": "150", "MSFT": "400", "NVDA": "120"})
    # the sells fill a moment after they are accepted: the fill reaches both instances through
    # the stream, and only then are the buys sendable
    simulator.configure(fill_mode="delayed", fill_delay_ms=200)
    # one settings object: one service name (consumer group), one store file, as a pair runs
    settings = router_settings(bootstrap_servers, tmp_path, simulator, store_sqlite_inline=False)
    clients = [alpaca_client(settings) for _ in range(2)]
    routers: list[OrderRouter] = [
        bootstrap(settings, broker=SlowSubmits(client, IN_TRANSIT_SECONDS)) for client in clients
    ]
    assert routers[0].ctx.owner != routers[1].ctx.owner
    legs = sum(len(orders) for orders in RUNS.values())

    def final_fills(events: list[object]) -> dict[tuple[str, int], OrderFilled]:
        return {
            (e.run_id, e.leg): e
            for e in events
            if isinstance(e, OrderFilled) and e.run_id in RUNS and e.status == "filled"
        }

    try:
        async with contextlib.AsyncExitStack() as stack:
            for router in routers:
                await stack.enter_async_context(router.runtime.running())
            topic = await stack.enter_async_context(TopicReader(bootstrap_servers, "order.filled"))
            await publish(
                bootstrap_servers, *(ready(run_id, orders) for run_id, orders in RUNS.items())
            )
            await topic.wait_for(lambda events: len(final_fills(events)) == legs, timeout=90)
            await topic.settle(1.0)  # (a late second request would still be counted below)
    finally:
        for client in clients:
            await client.aclose()

    fills = final_fills(topic.events())
    assert len(fills) == legs
    admin = simulator.admin_orders()
    requests = Counter(
        r["client_order_id"]
        for r in admin["requests"]
        if any(r["client_order_id"].startswith(f"rebal-{run_id}-") for run_id in RUNS)
    )
    assert admin["duplicate_requests"] == 0, admin["outcomes"]
    assert {coid: n for coid, n in requests.items() if n > 1} == {}
    assert len(requests) == legs  # each client_order_id requested exactly once
    assert {f.client_order_id for f in fills.values()} == set(requests)
    # the test did what it says: the twin was woken while the other held a run, and stood aside
    assert sum(r.dispatcher.skipped for r in routers) >= 1
    assert sum(r.dispatcher.sent for r in routers) == legs
