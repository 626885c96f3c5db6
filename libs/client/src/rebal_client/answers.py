"""Wait for the platform's answer to a request: the first event it caused, or its refusal.

Every answer names the request in `causation_id` (an optimization computed for a manual run, the
run's status change after a cancel, or `request.rejected` with the rule that held it), so a client
matches the answer to its request without guessing. The answer topics are read from their end as
it was *before* the request was published, so a fast answer is never missed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from rebal_client.kafka import KafkaConnection
from rebal_schemas import Event, PoisonMessage, RequestRejected, decode


@dataclass(frozen=True)
class Answer:
    """What became of a request: `refused` with the rule's code and message, or accepted with the
    event that answered it (None when nothing answered within the wait)."""

    event: Event | None
    refused: bool

    def describe(self, waited: float) -> str:
        if isinstance(self.event, RequestRejected):
            return f"refused {self.event.reason_code}: {self.event.message}"
        if self.event is None:
            return f"accepted (no refusal within {waited:g} s)"
        status = getattr(self.event, "status", None)
        shown = f" {status}" if status is not None else ""
        return f"accepted: {self.event.event_type}{shown} {self.event.event_id}"


async def publish_and_wait(
    kafka: str | KafkaConnection,
    request: Event,
    answer_topics: Sequence[str],
    publish: Callable[[Event], Awaitable[None]],
    timeout: float,
) -> Answer:
    """Publish `request` with `publish`, then read `answer_topics` until an event caused by it."""
    consumer: Any = AIOKafkaConsumer(
        **KafkaConnection.of(kafka).options(), enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = [
            TopicPartition(topic, p)
            for topic in answer_topics
            for p in sorted(await _partitions(consumer, topic))
        ]
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        for tp, end in ends.items():
            consumer.seek(tp, end)
        await publish(request)
        try:
            async with asyncio.timeout(timeout):
                return await _first_answer(consumer, request.event_id)
        except TimeoutError:
            return Answer(None, refused=False)
    finally:
        await consumer.stop()


async def _partitions(consumer: Any, topic: str, wait: float = 10.0) -> set[int]:
    """The topic's partitions, once the cluster's metadata has them (a topic just created may
    take a moment to appear)."""
    deadline = asyncio.get_running_loop().time() + wait
    while True:
        found = consumer.partitions_for_topic(topic)
        if not found:
            # aiokafka has no public call that refreshes the consumer's own metadata.
            cluster = await consumer._client.fetch_all_metadata()
            found = cluster.partitions_for_topic(topic)
        if found:
            return set(found)
        if asyncio.get_running_loop().time() > deadline:
            raise LookupError(f"topic {topic} does not exist")
        await asyncio.sleep(0.2)


async def _first_answer(consumer: Any, request_id: str) -> Answer:
    async for record in consumer:
        try:
            event = decode(record.topic, record.value)
        except PoisonMessage:
            continue
        if event.causation_id == request_id:
            return Answer(event, refused=isinstance(event, RequestRejected))
    raise AssertionError("unreachable: the consumer iterates until stopped")
