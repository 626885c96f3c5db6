"""The router in-process over the REAL embedded Kafka, the broker simulator as its own process."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from rebal_order_router.bootstrap import bootstrap
from rebal_runtime.embedded import EmbeddedKafka
from rebal_runtime.testing.kafka import TopicReader
from rebal_runtime.topics_admin import ensure_topics
from rebal_schemas import MessageDeadLettered, OrderClosed, OrderFilled, encode

from ..conftest import SimulatorProcess, publish, ready, router_settings  # type: ignore[import-not-found]

pytestmark = pytest.mark.kafka


def of_run(run_id: str, kind: type, status: str | None = None):  # type: ignore[no-untyped-def]
    def select(events: list[object]) -> list:  # type: ignore[type-arg]
        return [
            e
            for e in events
            if isinstance(e, kind)
            and e.run_id == run_id  # type: ignore[attr-defined]
            and (status is None or str(e.status) == status)  # type: ignore[attr-defined]
        ]

    return select


async def test_a_run_is_placed_filled_and_reported_sells_before_buys(
    fresh_kafka: EmbeddedKafka, tmp_path: Path, simulator: SimulatorProcess
) -> None:
    bootstrap_servers = fresh_kafka.bootstrap_servers
    await ensure_topics(bootstrap_servers)
    simulator.set_prices({"AAPL": "200", "GOOG": "150.25", "MSFT": "400"})
    event = ready(
        "run-fill", [(1, "AAPL", "sell", "5"), (2, "GOOG", "sell", "3"), (3, "MSFT", "buy", "2")]
    )
    router = bootstrap(router_settings(bootstrap_servers, tmp_path, simulator))
    filled_of_run = of_run("run-fill", OrderFilled, "filled")
    async with router.runtime.running(), TopicReader(bootstrap_servers, "order.filled") as topic:
        await publish(bootstrap_servers, event)
        await topic.wait_for(lambda events: len(filled_of_run(events)) == 3)
        await topic.settle(0.5)
    fills = filled_of_run(topic.events())
    assert len(fills) == 3  # one final fill per leg, no duplicates
    assert {(f.leg, f.symbol, f.side.value, f.filled_qty) for f in fills} == {
        (1, "AAPL", "sell", Decimal("5")),
        (2, "GOOG", "sell", Decimal("3")),
        (3, "MSFT", "buy", Decimal("2")),
    }
    assert {f.symbol: f.filled_avg_price for f in fills}["GOOG"] == Decimal("150.25")
    # one portfolio = one partition: the topic order is the order of the executions
    assert [f.side.value for f in fills][-1] == "buy"
    assert all(f.portfolio_id == "pf-run-fill" and f.broker_order_id for f in fills)

    requests = [
        r
        for r in simulator.admin_orders()["requests"]
        if r["client_order_id"].startswith("rebal-run-fill-")
    ]
    assert len({r["client_order_id"] for r in requests}) == len(requests) == 3
    assert requests[-1]["symbol"] == "MSFT"  # the buy reached the broker after both sells


async def test_partial_fill_then_end_of_day_expiry(
    fresh_kafka: EmbeddedKafka, tmp_path: Path, simulator: SimulatorProcess
) -> None:
    bootstrap_servers = fresh_kafka.bootstrap_servers
    await ensure_topics(bootstrap_servers)
    simulator.set_prices({"AAPL": "200"})
    simulator.configure(fill_mode="partial", partial_fill_ratio="0.4")
    router = bootstrap(router_settings(bootstrap_servers, tmp_path, simulator))
    partial = of_run("run-partial", OrderFilled, "partially_filled")
    expired = of_run("run-partial", OrderClosed, "expired")
    async with (
        router.runtime.running(),
        TopicReader(bootstrap_servers, "order.filled") as fills,
        TopicReader(bootstrap_servers, "order.closed") as closes,
    ):
        await publish(bootstrap_servers, ready("run-partial", [(1, "AAPL", "sell", "10")]))
        await fills.wait_for(lambda events: len(partial(events)) == 1)

        assert len(simulator.end_of_day()) == 1

        await closes.wait_for(lambda events: len(expired(events)) == 1)
        await closes.settle(0.3)
    (fill,) = partial(fills.events())
    assert (fill.filled_qty, fill.filled_avg_price, fill.leg) == (Decimal("4"), Decimal("200"), 1)
    (close,) = expired(closes.events())
    assert close.filled_qty == Decimal("4") and close.filled_avg_price == Decimal("200")
    assert close.broker_order_id == fill.broker_order_id
    assert len(of_run("run-partial", OrderClosed)(closes.events())) == 1


async def test_broker_rejections_are_reported_with_their_reason(
    fresh_kafka: EmbeddedKafka, tmp_path: Path, simulator: SimulatorProcess
) -> None:
    bootstrap_servers = fresh_kafka.bootstrap_servers
    await ensure_topics(bootstrap_servers)
    simulator.set_prices({"MSFT": "400"})
    simulator.configure(cash={"acct-poor": "100"})  # buying power of one account
    event = ready(
        "run-reject", [(1, "ZZZZ", "buy", "1"), (2, "MSFT", "buy", "10")], account_id="acct-poor"
    )
    router = bootstrap(router_settings(bootstrap_servers, tmp_path, simulator))
    rejected = of_run("run-reject", OrderClosed, "rejected")
    async with router.runtime.running(), TopicReader(bootstrap_servers, "order.closed") as topic:
        await publish(bootstrap_servers, event)
        await topic.wait_for(lambda events: len(rejected(events)) == 2)
    reasons = {c.symbol: c.reason for c in rejected(topic.events())}
    assert "unknown symbol" in reasons["ZZZZ"]  # refused as an order (status rejected)
    assert "insufficient buying power" in reasons["MSFT"]  # refused with HTTP 403
    assert all(c.filled_qty == 0 for c in rejected(topic.events()))


async def test_malformed_ready_goes_to_dead_letter_and_the_next_one_is_processed(
    fresh_kafka: EmbeddedKafka, tmp_path: Path, simulator: SimulatorProcess
) -> None:
    bootstrap_servers = fresh_kafka.bootstrap_servers
    await ensure_topics(bootstrap_servers)
    simulator.set_prices({"AAPL": "200"})
    settings = router_settings(bootstrap_servers, tmp_path, simulator)
    valid = ready("run-after-poison", [(1, "AAPL", "buy", "1")], portfolio_id="pf-shared")
    no_orders = orjson.loads(encode(valid))
    del no_orders["orders"]  # valid JSON, invalid event
    router = bootstrap(settings)
    async with (
        router.runtime.running(),
        TopicReader(bootstrap_servers, "dead.letter") as dead,
        TopicReader(bootstrap_servers, "order.filled") as fills,
    ):
        await publish(
            bootstrap_servers,
            (b"pf-shared", b"{not json"),
            (b"pf-shared", orjson.dumps(no_orders)),
            valid,  # same key, so same partition: it waits behind the two bad ones
        )
        await fills.wait_for(
            lambda events: len(of_run("run-after-poison", OrderFilled)(events)) == 1
        )
        letters = await dead.wait_for(
            lambda events: (
                len([e for e in events if e.consumer_group == settings.service_name]) == 2
            )
        )
    mine = [e for e in letters if isinstance(e, MessageDeadLettered)]
    assert {e.original_topic for e in mine} == {"optimization.ready"}
    assert any("orders" in e.reason for e in mine)
    assert sorted(e.offset for e in mine) == [0, 1]
