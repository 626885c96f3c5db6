"""Publish events (validated, keyed as DESIGN §2 says) and follow topics."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from rebal_schemas import Event, PoisonMessage, decode, encode, key_of


class Publisher:
    def __init__(self, bootstrap_servers: str) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap_servers, acks="all", linger_ms=2
        )

    async def __aenter__(self) -> Publisher:
        await self._producer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._producer.stop()

    async def publish(self, event: Event) -> None:
        await self._producer.send_and_wait(event.TOPIC, value=encode(event), key=key_of(event))

    async def publish_many(self, events: Iterable[Event]) -> int:
        """Pipelined: send all, then wait for every acknowledgement (acks=all)."""
        return len(await self._send_all(events))

    async def publish_tracked(self, events: Iterable[Event]) -> dict[str, dict[int, int]]:
        """`publish_many`, returning where the events landed: topic -> partition -> the offset
        after the last one, so a caller can wait until a consumer group has read them."""
        ends: dict[str, dict[int, int]] = {}
        for meta in await self._send_all(events):
            partitions = ends.setdefault(meta.topic, {})
            partitions[meta.partition] = max(partitions.get(meta.partition, 0), meta.offset + 1)
        return ends

    async def _send_all(self, events: Iterable[Event]) -> list[Any]:
        futures = [
            await self._producer.send(e.TOPIC, value=encode(e), key=key_of(e)) for e in events
        ]
        return [await future for future in futures]


async def wait_until_consumed(
    bootstrap_servers: str, group: str, ends: dict[str, dict[int, int]], timeout: float = 60.0
) -> None:
    """Until `group` has committed at least `ends` (from `publish_tracked`) on every partition."""
    probe: Any = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, group_id=group, enable_auto_commit=False
    )
    await probe.start()
    try:
        waiting = {
            TopicPartition(t, p): end for t, parts in ends.items() for p, end in parts.items()
        }
        async with asyncio.timeout(timeout):
            while waiting:  # committed offsets are polled: Kafka has no "tell me when" for them
                waiting = {
                    tp: end for tp, end in waiting.items() if (await probe.committed(tp) or 0) < end
                }
                await asyncio.sleep(0.05 if waiting else 0)
    finally:
        await probe.stop()


async def follow(
    bootstrap_servers: str, topics: Sequence[str], from_beginning: bool = False
) -> AsyncIterator[tuple[str, Event | None, bytes, str | None]]:
    """Yield (topic, event or None if undecodable, raw bytes, error) as they arrive; no consumer group."""
    consumer: Any = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap_servers,
        auto_offset_reset="earliest" if from_beginning else "latest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        async for record in consumer:
            try:
                yield record.topic, decode(record.topic, record.value), record.value, None
            except PoisonMessage as exc:
                yield record.topic, None, record.value, exc.reason
    finally:
        await consumer.stop()
