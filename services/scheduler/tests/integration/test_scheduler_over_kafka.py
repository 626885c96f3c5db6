"""The scheduler over the real embedded Kafka: two instances racing on one SQLite file, a
model's calendar slot on its rolled-back trading day, and bad input to dead.letter."""

from __future__ import annotations

import asyncio
import base64
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import pytest
from aiokafka import AIOKafkaProducer  # type: ignore[import-untyped]

from rebal_runtime.calendar import ExchangeCalendar
from rebal_runtime.clock import FakeClock
from rebal_runtime.embedded import EmbeddedKafka
from rebal_runtime.testing.kafka import TopicReader
from rebal_runtime.testing.pytest_plugin import settings_for
from rebal_scheduler.adapters.schedule_store import SCHEDULE_COLLECTION, SCHEDULE_ID
from rebal_scheduler.bootstrap import Scheduler, bootstrap
from rebal_scheduler.settings import SchedulerSettings
from rebal_schemas import (
    MessageDeadLettered,
    ModelUpdated,
    RebalanceCondition,
    RebalanceRequested,
    Weight,
    encode,
    key_of,
)

pytestmark = pytest.mark.kafka

NY = ZoneInfo("America/New_York")


def ny(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=NY).astimezone(UTC)


@pytest.fixture(scope="module")
def xnys() -> ExchangeCalendar:
    return ExchangeCalendar("XNYS", start=date(2025, 1, 1), end=date(2028, 12, 31))


def scheduler_settings(
    bootstrap_servers: str, tmp_path: Path, **overrides: object
) -> SchedulerSettings:
    base = settings_for(bootstrap_servers, tmp_path, "scheduler")
    return SchedulerSettings(**{**base.model_dump(), **overrides})


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.01)


async def produce(bootstrap_servers: str, topic: str, value: bytes, key: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, value=value, key=key)
    finally:
        await producer.stop()


def weekly_friday_model(model_id: str) -> ModelUpdated:
    return ModelUpdated(
        model_id=model_id,
        name="friday model",
        weights=(
            Weight(type="asset", symbol="SPY", percent=Decimal("70")),
            Weight(type="cash", percent=Decimal("30")),
        ),
        rebalance_conditions=(
            RebalanceCondition(type="calendar", sub_type="weekly", day="Friday"),
        ),
    )


async def has_model(scheduler: Scheduler, model_id: str) -> bool:
    doc = await scheduler.runtime.store.load(SCHEDULE_COLLECTION, SCHEDULE_ID)
    return doc is not None and model_id in doc.state.get("models", {})


def session_sweep_ids(day: date) -> list[str]:
    """09:30 .. 15:30 New York time, every 30 minutes."""
    start = datetime(day.year, day.month, day.day, 9, 30, tzinfo=NY)
    return [
        f"drift_sweep:{(start + timedelta(minutes=30 * k)).astimezone(UTC):%Y-%m-%dT%H:%MZ}"
        for k in range(13)
    ]


async def test_two_schedulers_on_one_store_put_each_slot_on_the_topic_once(
    fresh_kafka: EmbeddedKafka, tmp_path: Path, xnys: ExchangeCalendar
) -> None:
    bootstrap_servers = fresh_kafka.bootstrap_servers
    settings = scheduler_settings(
        bootstrap_servers,
        tmp_path,
        tick_seconds=60,  # the fake clock wakes both loops at every move
        late_after_seconds=3 * 3600,  # the clock moves an hour at a time: nothing counts as missed
        # The runtime's relay claims nothing: two relays polling one store could both send a
        # row before either deletes it (a same-id duplicate that consumers drop). With the poll
        # off each relay only sends after its own commits, so one record per slot on the topic
        # proves one commit per slot.
        outbox_poll_seconds=3600,
    )
    clock = FakeClock(ny(2026, 3, 31, 23))  # Tuesday night; Friday 04-03 is Good Friday
    first = bootstrap(settings, clock=clock, calendar=xnys)
    second = bootstrap(settings, clock=clock, calendar=xnys)  # same group, same SQLite file
    model = weekly_friday_model("m-fri")

    async def both_ticked() -> bool:
        now = clock.now()
        return first.clock_loop.last_ticked == now and second.clock_loop.last_ticked == now

    async def all_published() -> bool:
        return await first.runtime.store.pending_outbox(1) == []

    async with first.runtime.running(), second.runtime.running():
        async with TopicReader(bootstrap_servers, "rebalance.requested") as reader:
            await eventually(both_ticked)
            await produce(bootstrap_servers, "model.updated", encode(model), key_of(model))
            await eventually(lambda: has_model(first, "m-fri"))
            while clock.now() < ny(2026, 4, 3, 23):
                clock.advance(timedelta(hours=1))
                await eventually(both_ticked)
                await eventually(all_published)

            expected = {
                "nightly:2026-04-01",
                "nightly:2026-04-02",
                "calendar:m-fri:2026-04-02",  # Friday's rebalance, rolled back from the holiday
                *session_sweep_ids(date(2026, 4, 1)),
                *session_sweep_ids(date(2026, 4, 2)),
            }
            await reader.wait_for(lambda events: {e.slot_id for e in events} >= expected)
            await reader.settle(1.0)
            events: list[RebalanceRequested] = reader.events()  # type: ignore[assignment]

    per_slot = Counter(e.slot_id for e in events)
    assert set(per_slot) == expected
    assert all(count == 1 for count in per_slot.values()), per_slot.most_common(3)
    assert first.handlers.emitted + second.handlers.emitted == len(expected)
    assert all(e.event_id == f"slot:{e.slot_id}" and not e.late for e in events)
    (calendar,) = [e for e in events if e.reason == "calendar"]
    assert (calendar.scope, calendar.model_id) == ("model", "m-fri")
    assert calendar.occurred_at == ny(2026, 4, 2, 9, 35)
    assert {e.scope for e in events if e.reason != "calendar"} == {"all"}


async def test_a_model_with_weights_not_summing_to_100_is_dead_lettered(
    fresh_kafka: EmbeddedKafka, tmp_path: Path, xnys: ExchangeCalendar
) -> None:
    bootstrap_servers = fresh_kafka.bootstrap_servers
    settings = scheduler_settings(bootstrap_servers, tmp_path, tick_seconds=60)
    scheduler = bootstrap(settings, clock=FakeClock(ny(2026, 3, 31, 23)), calendar=xnys)
    bad = orjson.dumps(
        {
            "event_type": "model.updated",
            "schema_version": 2,
            "event_id": "bad-weights-1",
            "model_id": "m-bad",
            "name": "ninety percent",
            "weights": [
                {"type": "asset", "symbol": "AAPL", "percent": "50"},
                {"type": "cash", "percent": "40"},
            ],
            "rebalance_conditions": [{"type": "calendar", "sub_type": "monthly", "day": "1"}],
        }
    )
    good = weekly_friday_model("m-bad")  # same key, same partition: it must flow past the bad one

    async with scheduler.runtime.running(), TopicReader(bootstrap_servers, "dead.letter") as dead:
        await produce(bootstrap_servers, "model.updated", bad, b"m-bad")
        await produce(bootstrap_servers, "model.updated", encode(good), key_of(good))
        await eventually(lambda: has_model(scheduler, "m-bad"))
        letters = await dead.wait_for(lambda events: len(events) >= 1)

    (letter,) = letters
    assert isinstance(letter, MessageDeadLettered)
    assert letter.consumer_group == settings.service_name
    assert letter.original_topic == "model.updated" and letter.key == "m-bad"
    assert letter.error_type == "SchemaViolation"
    assert "weights must sum to exactly 100, got 90" in letter.reason
    assert base64.b64decode(letter.original_value_b64) == bad
    doc = await _reopened_schedule(settings)
    assert doc["models"] == {"m-bad": {"sub_type": "weekly", "day": "Friday"}}


async def _reopened_schedule(settings: SchedulerSettings) -> dict[str, object]:
    from rebal_runtime.store import store_from_settings

    store = store_from_settings(settings)
    await store.open()
    try:
        doc = await store.load(SCHEDULE_COLLECTION, SCHEDULE_ID)
    finally:
        await store.close()
    assert doc is not None
    return doc.state
