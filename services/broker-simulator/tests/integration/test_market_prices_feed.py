"""The simulator fills at the last price it CONSUMED from market.prices (over the real embedded Kafka)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from rebal_runtime.embedded import EmbeddedKafka
from rebal_runtime.topics_admin import ensure_topics
from rebal_schemas import PriceUpdated, encode, key_of

from .conftest import AUTH, start_simulator, wait_for

pytestmark = pytest.mark.kafka


async def publish(bootstrap: str, *events: PriceUpdated) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for event in events:
            await producer.send_and_wait(event.TOPIC, encode(event), key=key_of(event))
    finally:
        await producer.stop()


def test_prices_from_kafka_drive_fills(fresh_kafka: EmbeddedKafka, tmp_path: Path) -> None:
    asyncio.run(ensure_topics(fresh_kafka.bootstrap_servers))
    now = datetime.now(UTC)
    asyncio.run(
        publish(
            fresh_kafka.bootstrap_servers,
            PriceUpdated(symbol="SPY", price=Decimal("500.00"), as_of=now - timedelta(seconds=5)),
            PriceUpdated(symbol="SPY", price=Decimal("510.00"), as_of=now),
            # older than what is already known: must not win
            PriceUpdated(symbol="SPY", price=Decimal("1.00"), as_of=now - timedelta(seconds=60)),
        )
    )
    sim = start_simulator(
        tmp_path, tmp_path / "sim.sqlite", "--kafka-bootstrap", fresh_kafka.bootstrap_servers
    )
    try:
        with httpx.Client(base_url=sim.base_url, auth=AUTH, timeout=10) as http:

            def priced() -> bool:
                prices = http.get("/admin/prices").json()
                rows = prices.get("prices", prices) if isinstance(prices, dict) else prices
                return any(r.get("symbol") == "SPY" for r in rows)

            wait_for(priced, "SPY price consumed from market.prices", seconds=30)
            order = http.post(
                "/v1/trading/accounts/acct-1/orders",
                json={
                    "symbol": "SPY",
                    "side": "buy",
                    "type": "market",
                    "time_in_force": "day",
                    "qty": "2",
                    "client_order_id": "feed-test-1",
                },
            ).json()
            assert order["status"] == "filled"
            assert Decimal(order["filled_avg_price"]) == Decimal("510.00")
    finally:
        sim.stop()
