"""Read what landed on a topic, from the beginning, without a consumer group (test oracle)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from rebal_schemas import Event, decode


class TopicReader:
    """Tails a topic from offset 0 and keeps everything it read, decoded where possible."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.records: list[Any] = []
        self._consumer: Any = None

    async def __aenter__(self) -> TopicReader:
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
        )
        await self._consumer.start()
        # The consumer's own metadata holds only the topics it tracks: on Apache Kafka none before
        # an assignment (Tansu answers with every topic). Ask the cluster for every topic's.
        cluster = await self._consumer._client.fetch_all_metadata()
        partitions = cluster.partitions_for_topic(self.topic)
        if not partitions:
            raise LookupError(f"topic {self.topic!r} does not exist")
        tps = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        self._consumer.assign(tps)
        await self._consumer.seek_to_beginning(*tps)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._consumer.stop()

    async def poll(self, timeout: float = 0.2) -> None:
        batches = await self._consumer.getmany(timeout_ms=int(timeout * 1000))
        for records in batches.values():
            self.records.extend(records)

    def events(self) -> list[Event]:
        return [decode(self.topic, r.value) for r in self.records]

    async def wait_for(
        self, predicate: Callable[[list[Any]], bool], timeout: float = 30.0, decoded: bool = True
    ) -> list[Any]:
        """Poll until `predicate(items)` holds; items are decoded events (or raw records)."""
        deadline = time.monotonic() + timeout
        while True:
            items = self.events() if decoded else list(self.records)
            if predicate(items):
                return items
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{self.topic}: condition not met in {timeout}s; have {len(items)} records"
                )
            await self.poll()

    async def settle(self, quiet: float = 1.0) -> None:
        """Read until nothing new arrives for `quiet` seconds."""
        while True:
            before = len(self.records)
            await self.poll(quiet)
            if len(self.records) == before:
                return
            await asyncio.sleep(0)


async def read_to_end(topic: str, timeout: float = 60.0, **client: Any) -> list[Event]:
    """Every record on `topic` up to its end offsets when called (a fact, not a quiet period).
    `client`: aiokafka options, at least `bootstrap_servers` (plus SASL options on a secured
    broker)."""
    consumer: Any = AIOKafkaConsumer(
        **client, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        cluster = await consumer._client.fetch_all_metadata()
        tps = [TopicPartition(topic, p) for p in sorted(cluster.partitions_for_topic(topic) or ())]
        if not tps:
            raise LookupError(f"topic {topic!r} does not exist")
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        events: list[Event] = []
        async with asyncio.timeout(timeout):
            while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
                batches = await consumer.getmany(timeout_ms=200)
                for records in batches.values():
                    events.extend(decode(topic, r.value) for r in records)
        return events
    finally:
        await consumer.stop()
