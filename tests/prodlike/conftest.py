"""The compose topology as processes (`rebal_runtime.prodlike`), once per module: Apache Kafka with
SASL/SCRAM and the topic ACLs, 12 partitions per topic and the idempotent producer, two instances
of optimizer, order-router and settlement-tracker each pair sharing one SQLite file, the scheduler
on FerretDB (Mongo wire), one broker simulator with its admin token. Always Apache Kafka, whatever
the session's `--kafka-broker`.

The tests act from the outside as the parties they play (`demo_kafka`: each client role its own
principal) and observe as the operator (`admin`): nothing reaches this broker unauthenticated."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from rebal_demo.__main__ import DEMO_ENVIRONMENT
from rebal_demo.kafka_roles import DemoKafka

from rebal_runtime.prodlike import ProdLikeStack, build
from rebal_runtime.testing.kafka import read_to_end as read_topic_to_end
from rebal_runtime.topic_acl import ADMIN
from rebal_schemas import Event


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
    """Every record on `topic` up to its end offsets when called, read as the operator."""
    return await read_topic_to_end(topic, timeout, **operator_options(stack))


def repeated_ids(events: list[Event]) -> dict[str, int]:
    """event_id -> how many times it is on the topic, for the ids there more than once."""
    return {i: n for i, n in Counter(e.event_id for e in events).items() if n > 1}
