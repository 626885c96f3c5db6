"""Publish events (validated, keyed as DESIGN §2 says) and follow topics."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

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
        futures = [
            await self._producer.send(e.TOPIC, value=encode(e), key=key_of(e)) for e in events
        ]
        for future in futures:
            await future
        return len(futures)


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
