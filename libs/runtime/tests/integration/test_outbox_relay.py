"""Two outbox relays sharing one store, over the real embedded Kafka: each row reaches the topic
exactly once, and a row larger than Kafka accepts is quarantined while the rest flows."""

from __future__ import annotations

import asyncio
import collections
from pathlib import Path
from typing import Any

import pytest

from rebal_runtime.embedded import EmbeddedKafka
from rebal_runtime.outbox import AiokafkaSender, OutboxRelay
from rebal_runtime.store import Commit, DocumentStore, OutboxMessage
from rebal_runtime.store.sqlite import SqliteStore
from rebal_runtime.testing.kafka import TopicReader
from rebal_runtime.testing.pytest_plugin import settings_for, unique
from rebal_runtime.topics_admin import ensure_topics
from rebal_runtime.uow import to_outbox
from rebal_schemas import OptimizationStatusChanged

pytestmark = [pytest.mark.kafka]

TOPIC = OptimizationStatusChanged.TOPIC  # shared with other tests, which decode what is on it


def message(portfolio: str) -> OutboxMessage:
    """A valid event (other tests of the session read this topic and decode every record)."""
    event = OptimizationStatusChanged(
        optimization_id=unique("o"), portfolio_id=portfolio, status="READY"
    )
    return to_outbox(event)


def event_id_of(record: Any) -> str:
    """The record's event id header ("" for records of other tests that carry none)."""
    return str(dict(record.headers).get("event_id", b"").decode())


async def wait_until_empty(store: DocumentStore, timeout: float = 30.0) -> None:
    async with asyncio.timeout(timeout):
        while await store.pending_outbox(1):  # noqa: ASYNC110 - the store has no event for it
            await asyncio.sleep(0.02)


async def test_two_relays_on_one_sqlite_file_put_each_row_on_the_topic_once(
    kafka: EmbeddedKafka, tmp_path: Path
) -> None:
    await ensure_topics(kafka.bootstrap_servers)
    run = unique("relay")
    path = tmp_path / "shared.sqlite"
    stores = [SqliteStore(path), SqliteStore(path)]  # two instances, one store file
    for store in stores:
        await store.open()
    commits = [
        Commit("docs", f"{run}-{d}", 0, {}, outbox=[message(f"{run}-{d}") for _ in range(3)])
        for d in range(100)
    ]
    assert await stores[0].commit_many(commits) == []
    expected = {m.event_id for c in commits for m in c.outbox}
    relays = [
        OutboxRelay(
            store,
            AiokafkaSender(settings_for(kafka.bootstrap_servers, tmp_path, f"i{n}")),
            poll_seconds=0.02,
            batch=20,
            owner=f"{run}-instance-{n}",
        )
        for n, store in enumerate(stores)
    ]
    async with TopicReader(kafka.bootstrap_servers, TOPIC) as reader:
        for relay in relays:
            await relay.start()
        try:
            await wait_until_empty(stores[0])
        finally:
            for relay in relays:
                await relay.stop()

        def mine(records: list[Any]) -> list[Any]:
            return [r for r in records if event_id_of(r) in expected]

        await reader.wait_for(lambda rs: len(mine(rs)) >= len(expected), decoded=False)
        await reader.settle(0.5)  # a duplicate, if any, would arrive now
        counts = collections.Counter(event_id_of(r) for r in mine(reader.records))
    assert set(counts) == expected and set(counts.values()) == {1}  # 300 rows, once each
    assert relays[0].published and relays[1].published  # both instances took a share
    for store in stores:
        await store.close()


async def test_a_row_larger_than_kafka_accepts_is_quarantined_and_the_rest_published(
    kafka: EmbeddedKafka, tmp_path: Path
) -> None:
    await ensure_topics(kafka.bootstrap_servers)
    run = unique("poison")
    store = SqliteStore(tmp_path / "s.sqlite")
    await store.open()
    huge = OutboxMessage(unique("huge"), TOPIC, b"k", b"x" * (2 * 1024 * 1024))  # over 1 MiB
    a, b, later = message(run), message(run), message(run)
    await store.commit(Commit("docs", run, 0, {}, outbox=[a, huge, b]))
    settings = settings_for(kafka.bootstrap_servers, tmp_path, "poison")
    relay = OutboxRelay(store, AiokafkaSender(settings), poll_seconds=0.02)
    async with TopicReader(kafka.bootstrap_servers, TOPIC) as reader:
        await relay.start()
        try:
            await wait_until_empty(store)
            await store.commit(Commit("docs", run, 1, {}, outbox=[later]))
            await wait_until_empty(store)
        finally:
            await relay.stop()
        wanted = {a.event_id, b.event_id, later.event_id}
        await reader.wait_for(lambda rs: wanted <= {event_id_of(r) for r in rs}, decoded=False)
        await reader.settle(0.5)
        counts = collections.Counter(
            event_id_of(r) for r in reader.records if event_id_of(r) in wanted | {huge.event_id}
        )
    assert counts == collections.Counter(wanted)
    [q] = await store.quarantined_outbox()
    assert q.message == huge and q.reason.startswith("MessageSizeTooLargeError")
    assert (relay.published, relay.quarantined) == (3, 1)
    await store.close()
