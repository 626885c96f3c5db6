"""The compose topology as processes (`rebal_runtime.prodlike`), once per module: Apache Kafka with
SASL/SCRAM and the topic ACLs, 12 partitions per topic and the idempotent producer, two instances
of optimizer, order-router and settlement-tracker each pair sharing one SQLite file, the scheduler
on FerretDB (Mongo wire), one broker simulator with its admin token. Always Apache Kafka, whatever
the session's `--kafka-broker`.

The tests act from the outside as the parties they play (`demo_kafka`: each client role its own
principal) and observe as the operator (`admin`): nothing reaches this broker unauthenticated."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from rebal_demo.__main__ import DEMO_ENVIRONMENT
from rebal_demo.kafka_roles import DemoKafka

from rebal_runtime.prodlike import ProdLikeStack, build
from rebal_runtime.topic_acl import ADMIN
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


def demo_kafka(stack: ProdLikeStack) -> DemoKafka:
    """The demo's parties, each as its client role; the operator as admin."""
    return DemoKafka.secured(stack.secured)


def operator_options(stack: ProdLikeStack) -> dict[str, Any]:
    """aiokafka options of the operator (`admin`), who may read every topic."""
    return {
        "bootstrap_servers": stack.kafka.bootstrap_servers,
        **stack.secured.client_options(ADMIN),
    }


def simulator_admin(stack: ProdLikeStack, path: str) -> Any:
    """GET a simulator admin endpoint with the stack's admin token."""
    answer = httpx.get(
        f"http://127.0.0.1:{stack.simulator_port}{path}",
        headers=stack.simulator_admin_headers(),
        timeout=30,
    )
    answer.raise_for_status()
    return answer.json()


async def read_to_end(stack: ProdLikeStack, topic: str, timeout: float = 60.0) -> list[Event]:
    """Every record on `topic` up to its end offsets when called (a fact, not a quiet period),
    read as the operator."""
    consumer: Any = AIOKafkaConsumer(
        **operator_options(stack), enable_auto_commit=False, auto_offset_reset="earliest"
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


async def ready_and_completed(
    stack: ProdLikeStack, timeout: float = 120.0
) -> tuple[set[str], dict[str, set[str]]]:
    """`tests/e2e/fault_checks.ready_and_completed` as the operator: every ready run, and the
    run.completed event ids per run, read until each ready run has one (or `timeout`)."""
    deadline = time.monotonic() + timeout
    while True:
        ready_ids = {e.optimization_id for e in await read_to_end(stack, "optimization.ready")}  # type: ignore[attr-defined]
        ids: dict[str, set[str]] = {}
        for event in await read_to_end(stack, "run.completed"):
            ids.setdefault(event.run_id, set()).add(event.event_id)  # type: ignore[attr-defined]
        if ready_ids <= set(ids) or time.monotonic() > deadline:
            return ready_ids, ids
        await asyncio.sleep(1.0)


async def event_kinds(stack: ProdLikeStack) -> dict[str, str]:
    """`tests/e2e/fault_checks.event_kinds` as the operator (a mismatch's diagnosis)."""
    kinds: dict[str, str] = {}
    for topic in (
        "portfolio.patched",
        "optimization.submitted",
        "run.completed",
        "rebalance.requested",
        "optimization.decided",
        "market.prices",
    ):
        for e in await read_to_end(stack, topic):
            detail = (
                getattr(e, "cash", None)
                or getattr(e, "amount", None)
                or getattr(e, "cash_delta", None)
            )
            kinds[e.event_id] = f"{e.event_type}({detail})"
    return kinds
