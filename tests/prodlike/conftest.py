"""The compose topology as processes (`rebal_runtime.prodlike`), once per module: Apache Kafka with
12 partitions per topic and the idempotent producer, two instances of optimizer, order-router and
settlement-tracker each pair sharing one SQLite file, the scheduler on FerretDB (Mongo wire), one
broker simulator. Always Apache Kafka, whatever the session's `--kafka-broker`."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from rebal_demo.__main__ import DEMO_ENVIRONMENT

from rebal_runtime.prodlike import ProdLikeStack, build
from rebal_schemas import Event, decode


@pytest.fixture(scope="module")
def prodlike(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProdLikeStack]:
    running = build(tmp_path_factory.mktemp("prodlike"), overrides=DEMO_ENVIRONMENT)
    began = time.monotonic()
    running.start(echo=False)
    try:
        running.wait_ready(240)
        timings = ", ".join(f"{k} {v:.1f} s" for k, v in running.timings.items())
        print(f"\nprod-like stack ready in {time.monotonic() - began:.1f} s ({timings})")
        yield running
    finally:
        running.stop()


def logs(stack: ProdLikeStack) -> str:
    return "\n".join(
        f"--- {p.name}\n" + (Path(stack.var_dir) / f"{p.name}.log").read_text()[-3000:]
        for p in stack.processes
        if (Path(stack.var_dir) / f"{p.name}.log").exists()
    )


async def read_to_end(bootstrap: str, topic: str, timeout: float = 60.0) -> list[Event]:
    """Every record on `topic` up to its end offsets when called (a fact, not a quiet period)."""
    consumer: Any = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        cluster = await consumer._client.fetch_all_metadata()
        tps = [TopicPartition(topic, p) for p in sorted(cluster.partitions_for_topic(topic))]
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


def repeated_ids(events: list[Event]) -> dict[str, int]:
    """event_id -> how many times it is on the topic, for the ids there more than once."""
    return {i: n for i, n in Counter(e.event_id for e in events).items() if n > 1}
