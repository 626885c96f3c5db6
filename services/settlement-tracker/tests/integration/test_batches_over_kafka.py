"""The tracker's hot topics are batch subscribers, over the REAL embedded Kafka: the fills of a run
read in one poll are one store write; a bad fill among them is dead-lettered alone and the others
are applied, each once. Records are produced while the tracker is stopped, so that its first poll
returns them together (as the runtime's own batch tests do)."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from rebal_runtime.clock import FakeClock
from rebal_runtime.embedded import EmbeddedKafka
from rebal_runtime.store import Commit, InMemoryStore
from rebal_runtime.testing.kafka import TopicReader
from rebal_runtime.testing.pytest_plugin import settings_for
from rebal_runtime.topics_admin import ensure_topics
from rebal_schemas import MessageDeadLettered, RunCompleted, RunStatus, encode
from rebal_settlement_tracker.adapters.run_document import RUNS
from rebal_settlement_tracker.bootstrap import SettlementService, bootstrap
from rebal_settlement_tracker.settings import SettlementSettings

from .test_service_over_kafka import market_time, of_run, publish, wait_until

pytestmark = pytest.mark.kafka

WEDNESDAY = date(2026, 3, 4)


class CountedStore(InMemoryStore):
    """Remembers the run ids of each batch write (`commit_many`)."""

    def __init__(self) -> None:
        super().__init__()
        self.batch_writes: list[list[str]] = []

    async def commit_many(self, commits: Sequence[Commit]) -> list[str]:
        self.batch_writes.append([c.id for c in commits if c.collection == RUNS])
        return await super().commit_many(commits)


def tracker(kafka: EmbeddedKafka, tmp_path: Path, store: CountedStore) -> SettlementService:
    base = settings_for(kafka.bootstrap_servers, tmp_path, "settlement").model_dump()
    settings = SettlementSettings(**{**base, "settlement_cycle_days": 0})
    return bootstrap(settings, clock=FakeClock(market_time(WEDNESDAY, 20)), store=store)


async def planned_run(
    kafka: EmbeddedKafka, tmp_path: Path, store: CountedStore, events: Any
) -> None:
    """Plan the run, then stop the tracker (its offsets committed)."""
    async with tracker(kafka, tmp_path, store).runtime.running():
        await publish(kafka.bootstrap_servers, events.ready())

        async def planned() -> bool:
            doc = await store.load(RUNS, events.run_id)
            return doc is not None and doc.state["orders"] is not None

        await wait_until(planned)
    store.batch_writes.clear()


async def test_the_fills_of_a_run_read_in_one_poll_are_one_store_write(
    fresh_kafka: EmbeddedKafka, tmp_path: Path, run_events: Any
) -> None:
    await ensure_topics(fresh_kafka.bootstrap_servers)
    store, events = CountedStore(), run_events()
    await planned_run(fresh_kafka, tmp_path, store, events)
    fills = [
        events.filled(0, "4", "200.50", WEDNESDAY, final=False),
        events.filled(0, "10", "200.50", WEDNESDAY),
        events.filled(1, "4", "400.125", WEDNESDAY),
        events.filled(2, "3.3333", "300.01", WEDNESDAY),
    ]
    await publish(fresh_kafka.bootstrap_servers, *fills)
    async with (
        tracker(fresh_kafka, tmp_path, store).runtime.running(),
        TopicReader(fresh_kafka.bootstrap_servers, "run.completed") as completed,
    ):
        [done] = await completed.wait_for(
            lambda evs: bool(of_run(events.run_id, RunCompleted)(evs))
        )

    assert store.batch_writes == [[events.run_id]]  # four fills, one write
    assert done.status is RunStatus.COMPLETED_SUCCESS
    doc = await store.load(RUNS, events.run_id)
    assert doc is not None and all(doc.has_processed(f.event_id) for f in fills)


async def test_a_bad_fill_in_a_batch_is_dead_lettered_alone_and_the_others_apply_once(
    fresh_kafka: EmbeddedKafka, tmp_path: Path, run_events: Any
) -> None:
    bootstrap_servers = fresh_kafka.bootstrap_servers
    await ensure_topics(bootstrap_servers)
    store, events = CountedStore(), run_events()
    await planned_run(fresh_kafka, tmp_path, store, events)
    good = [
        events.filled(0, "10", "200.50", WEDNESDAY),
        events.filled(1, "4", "400.125", WEDNESDAY),
        events.filled(2, "3.3333", "300.01", WEDNESDAY),
    ]
    unknown_leg = events.filled(5, "1", "10", WEDNESDAY)
    key = events.portfolio_id.encode()
    await publish(
        bootstrap_servers, good[0], unknown_leg, good[1], ("order.filled", key, b"{nope"), good[2]
    )
    async with (
        tracker(fresh_kafka, tmp_path, store).runtime.running(),
        TopicReader(bootstrap_servers, "dead.letter") as dead,
        TopicReader(bootstrap_servers, "run.completed") as completed,
    ):
        await completed.wait_for(lambda evs: bool(of_run(events.run_id, RunCompleted)(evs)))
        letters = await dead.wait_for(lambda evs: len(evs) == 2)
        await completed.settle(0.3)

    by_value = {base64.b64decode(e.original_value_b64): e for e in letters}
    assert all(isinstance(e, MessageDeadLettered) for e in letters)
    assert by_value[encode(unknown_leg)].error_type == "FactRejectedMessage"
    assert by_value[b"{nope"].error_type == "MalformedMessage"
    [done] = of_run(events.run_id, RunCompleted)(completed.events())
    assert done.status is RunStatus.COMPLETED_SUCCESS
    doc = await store.load(RUNS, events.run_id)
    assert doc is not None and all(doc.has_processed(f.event_id) for f in good)
