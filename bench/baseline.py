"""Raw broker baseline: aiokafka produce (pipelined, acks=all) and consume rate on embedded Tansu.

Every benchmark divides its own figure by this one, measured in the same run on the same machine.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from rebal_runtime.embedded import EmbeddedKafka
from rebal_runtime.topics_admin import ensure_topics


@dataclass(frozen=True)
class Baseline:
    message_bytes: int
    messages: int
    produce_per_s: float
    consume_per_s: float

    @property
    def produce_consume_per_s(self) -> float:
        """Messages per second through produce + consume, one after the other."""
        return 1 / (1 / self.produce_per_s + 1 / self.consume_per_s)

    def line(self) -> str:
        return (
            f"raw broker baseline ({self.message_bytes} B, {self.messages} msgs): "
            f"produce {self.produce_per_s:,.0f}/s, consume {self.consume_per_s:,.0f}/s, "
            f"produce+consume {self.produce_consume_per_s:,.0f}/s"
        )


async def measure(
    bootstrap: str,
    message_bytes: int = 600,
    messages: int = 20_000,
    options: dict[str, Any] | None = None,
) -> Baseline:
    """`options`: more aiokafka client options (a secured broker's SASL settings)."""
    security = options or {}
    topic = f"bench-baseline-{uuid.uuid4().hex[:6]}"
    await ensure_topics(bootstrap, [(topic, 6)], **security)
    payload = b"x" * message_bytes
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=1, **security)
    await producer.start()
    start = time.perf_counter()
    futures = [
        await producer.send(topic, payload, key=str(i % 997).encode()) for i in range(messages)
    ]
    await asyncio.gather(*futures)
    produce_s = time.perf_counter() - start
    await producer.stop()

    # Manual assignment: no group join in the figure, only fetching and decoding batches.
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, **security)
    await consumer.start()
    partitions = [TopicPartition(topic, p) for p in range(6)]
    consumer.assign(partitions)
    await consumer.seek_to_beginning(*partitions)
    seen = 0
    start = time.perf_counter()
    while seen < messages:
        batch = await consumer.getmany(timeout_ms=1000, max_records=5000)
        seen += sum(len(v) for v in batch.values())
    consume_s = time.perf_counter() - start
    await consumer.stop()
    return Baseline(message_bytes, messages, messages / produce_s, messages / consume_s)


def main() -> None:
    with EmbeddedKafka() as kafka:
        print(asyncio.run(measure(kafka.bootstrap_servers)).line())


if __name__ == "__main__":
    main()
