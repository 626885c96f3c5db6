"""The running optimizer (in-process ServiceRuntime) over the real embedded Kafka, plus a producer
and topic readers, shared by the flow tests (unique portfolio ids and symbols per test)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer  # type: ignore[import-untyped]

from rebal_optimizer.adapters.portfolio_document import PORTFOLIOS, record_from_document
from rebal_optimizer.bootstrap import Optimizer, bootstrap
from rebal_optimizer.settings import OptimizerSettings
from rebal_runtime.calendar import always_open
from rebal_runtime.clock import FakeClock
from rebal_runtime.embedded import EmbeddedKafka
from rebal_runtime.testing.kafka import TopicReader
from rebal_runtime.testing.pytest_plugin import settings_for
from rebal_runtime.topics_admin import ensure_topics
from rebal_schemas import Event, Weight, encode, key_of

ADVISORY_EXPIRY_SECONDS = 2 * 24 * 3600


def optimizer_settings(
    bootstrap_servers: str, tmp_path: Path, **overrides: Any
) -> OptimizerSettings:
    base = settings_for(bootstrap_servers, tmp_path, "optimizer")
    values: dict[str, Any] = {
        **base.model_dump(),
        "trading_calendar": "ALWAYS_OPEN",
        "max_price_age_seconds": 365 * 24 * 3600,  # the shared fake clock moves days forward
        "advisory_expiry_seconds": ADVISORY_EXPIRY_SECONDS,
        "expiry_sweep_seconds": 3600,  # the fake clock wakes the sweep whenever it moves
        "fanout_batch": 3,  # several pages even for a handful of portfolios
        **overrides,
    }
    return OptimizerSettings(**values)


class Harness:
    """Drives a running optimizer: publish input, wait for its effects, read its output."""

    def __init__(
        self,
        optimizer: Optimizer,
        producer: Any,
        created: TopicReader,
        ready: TopicReader,
        requested: TopicReader,
    ) -> None:
        self.optimizer = optimizer
        self.producer = producer
        self.created = created
        self.ready = ready
        self.requested = requested

    @property
    def clock(self) -> FakeClock:
        clock = self.optimizer.clock
        assert isinstance(clock, FakeClock)
        return clock

    async def send(self, *events: Event) -> None:
        for event in events:
            await self.producer.send_and_wait(event.TOPIC, encode(event), key=key_of(event))

    async def send_raw(self, topic: str, value: bytes, key: bytes) -> None:
        await self.producer.send_and_wait(topic, value, key=key)

    async def until(self, check: Callable[[], Awaitable[Any]], timeout: float = 30.0) -> Any:
        deadline = asyncio.get_running_loop().time() + timeout
        while not (result := await check()):
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError("condition not met")
            await asyncio.sleep(0.02)
        return result

    async def processed(self, collection: str, doc_id: str, event_id: str) -> None:
        """Wait until the optimizer committed the event (its inbox holds the id)."""
        store = self.optimizer.runtime.store

        async def done() -> bool:
            doc = await store.load(collection, doc_id)
            return doc is not None and doc.has_processed(event_id)

        await self.until(done)

    async def record(self, portfolio_id: str) -> Any:
        doc = await self.optimizer.runtime.store.load(PORTFOLIOS, portfolio_id)
        return record_from_document(doc.state) if doc is not None else None

    async def output(
        self,
        reader: TopicReader,
        predicate: Callable[[Any], bool],
        count: int = 1,
        timeout: float = 30.0,
    ) -> list[Any]:
        events = await reader.wait_for(
            lambda evs: sum(1 for e in evs if predicate(e)) >= count, timeout=timeout
        )
        return [e for e in events if predicate(e)]


def unique() -> str:
    return uuid.uuid4().hex[:8].upper()


def weights(**percents: str) -> tuple[Weight, ...]:
    return tuple(
        Weight(type="cash", percent=Decimal(p))
        if s == "cash"
        else Weight(type="asset", symbol=s, percent=Decimal(p))
        for s, p in percents.items()
    )


@pytest.fixture(scope="module")
async def harness(
    kafka: EmbeddedKafka, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Harness]:
    bootstrap_servers = kafka.bootstrap_servers
    await ensure_topics(bootstrap_servers)
    settings = optimizer_settings(bootstrap_servers, tmp_path_factory.mktemp("optimizer"))
    clock = FakeClock(datetime.now(UTC))
    optimizer = bootstrap(settings, clock=clock, calendar=always_open())
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks="all")
    await producer.start()
    try:
        async with (
            optimizer.runtime.running(),
            TopicReader(bootstrap_servers, "optimization.created") as created,
            TopicReader(bootstrap_servers, "optimization.ready") as ready,
            TopicReader(bootstrap_servers, "rebalance.requested") as requested,
        ):
            yield Harness(optimizer, producer, created, ready, requested)
    finally:
        await producer.stop()
