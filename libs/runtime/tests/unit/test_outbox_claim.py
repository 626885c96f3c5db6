"""The outbox relay over a shared store: two relays (two instances of a service) publish each
outbox row exactly once, a crashed relay's rows are taken over after its lease, and a row that can
never be published is quarantined instead of blocking the rows behind it (docs/design.md §4)."""

from __future__ import annotations

import asyncio
import collections
import json
import sys
import textwrap
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path

import pytest
from aiokafka.errors import KafkaConnectionError, MessageSizeTooLargeError

from rebal_runtime.outbox import OutboxRelay, PublishIncomplete, permanent_failure
from rebal_runtime.settings_groups import OutboxSettings
from rebal_runtime.store import Commit, DocumentStore, InMemoryStore, OutboxMessage
from rebal_runtime.store.sqlite import SqliteStore

TOO_LARGE: type[BaseException] = MessageSizeTooLargeError  # aiokafka is untyped
DOWN: type[BaseException] = KafkaConnectionError
Verdict = Callable[[OutboxMessage, Sequence[OutboxMessage]], BaseException | None]


class CountingSender:
    """Counts every acknowledged publish per event id; `verdict` may fail a message."""

    def __init__(self, delay: float = 0.0, verdict: Verdict | None = None) -> None:
        self.delay = delay
        self.verdict = verdict
        self.acked: collections.Counter[str] = collections.Counter()
        self.batches: list[list[str]] = []

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def send_batch(self, messages: Sequence[OutboxMessage]) -> list[BaseException | None]:
        self.batches.append([m.event_id for m in messages])
        await asyncio.sleep(self.delay)  # a publish takes time: the other relay runs meanwhile
        results = [self.verdict(m, messages) if self.verdict else None for m in messages]
        for m, error in zip(messages, results, strict=True):
            if error is None:
                self.acked[m.event_id] += 1
        return results


def msg(event_id: str, value: bytes = b"{}") -> OutboxMessage:
    return OutboxMessage(event_id, "t", event_id.encode(), value)


async def commit_events(store: DocumentStore, docs: int, per_doc: int) -> set[str]:
    commits = [
        Commit("docs", f"d{d:03d}", 0, {}, outbox=[msg(f"e{d}-{i}") for i in range(per_doc)])
        for d in range(docs)
    ]
    assert await store.commit_many(commits) == []
    return {m.event_id for c in commits for m in c.outbox}


async def wait_until_empty(store: DocumentStore, timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while await store.pending_outbox(1):  # noqa: ASYNC110 - the store has no event for it
            await asyncio.sleep(0.01)


@pytest.fixture(params=["memory", "sqlite", "sqlite-thread"])
async def two_stores(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[DocumentStore, DocumentStore]]:
    """Two instances sharing one store: the same in-memory store, or two connections to one
    SQLite file (inline, or each on a worker thread of its own: truly parallel)."""
    if request.param == "memory":
        shared = InMemoryStore()
        yield shared, shared
        return
    inline = request.param == "sqlite"
    a = SqliteStore(tmp_path / "shared.sqlite", inline=inline)
    b = SqliteStore(tmp_path / "shared.sqlite", inline=inline)
    await a.open()
    await b.open()
    yield a, b
    await a.close()
    await b.close()


async def test_two_relays_on_one_store_publish_each_event_exactly_once(
    two_stores: tuple[DocumentStore, DocumentStore],
) -> None:
    a, b = two_stores
    expected = await commit_events(a, docs=120, per_doc=3)
    sender_a, sender_b = CountingSender(delay=0.002), CountingSender(delay=0.002)
    relays = [
        OutboxRelay(a, sender_a, poll_seconds=0.01, batch=25, owner="instance-a"),
        OutboxRelay(b, sender_b, poll_seconds=0.01, batch=25, owner="instance-b"),
    ]
    for relay in relays:
        await relay.start()
    try:
        await wait_until_empty(a)
    finally:
        for relay in relays:
            await relay.stop()
    total = sender_a.acked + sender_b.acked
    assert set(total) == expected and set(total.values()) == {1}  # 360 events, once each
    assert sender_a.acked and sender_b.acked  # both instances did share the work
    assert relays[0].published + relays[1].published == len(expected)


async def test_commits_while_two_relays_run_are_each_published_once(
    two_stores: tuple[DocumentStore, DocumentStore],
) -> None:
    """Handlers keep committing to the documents the relays are claiming: no commit conflicts
    with a claim, nothing is lost, nothing is sent twice."""
    a, b = two_stores
    senders = [CountingSender(delay=0.001), CountingSender(delay=0.001)]
    relays = [
        OutboxRelay(s, snd, poll_seconds=0.01, batch=10, owner=f"i{n}")
        for n, (s, snd) in enumerate(zip((a, b), senders, strict=True))
    ]
    for relay in relays:
        await relay.start()
    expected: set[str] = set()
    try:
        for version in range(8):  # 8 commits on each of 20 documents, alternating instances
            for d in range(20):
                event_id = f"d{d}-v{version}"
                await (a, b)[d % 2].commit(
                    Commit(
                        "docs", f"d{d}", version, {"v": version}, event_id, outbox=[msg(event_id)]
                    )
                )
                expected.add(event_id)
            await asyncio.sleep(0.005)
        await wait_until_empty(a)
    finally:
        for relay in relays:
            await relay.stop()
    total = senders[0].acked + senders[1].acked
    assert set(total) == expected and set(total.values()) == {1}
    for d in range(20):
        doc = await a.load("docs", f"d{d}")
        assert doc is not None and doc.version == 8  # every commit applied, none refused


async def test_two_processes_on_one_sqlite_file_publish_each_event_exactly_once(
    tmp_path: Path,
) -> None:
    path = tmp_path / "shared.sqlite"
    store = SqliteStore(path)
    await store.open()
    expected = await commit_events(store, docs=200, per_doc=2)
    await store.close()
    script = textwrap.dedent(
        f"""
        import asyncio, json, sys
        from rebal_runtime.outbox import OutboxRelay
        from rebal_runtime.store.sqlite import SqliteStore

        class Sender:
            async def start(self): pass
            async def stop(self): pass
            async def send_batch(self, messages):
                await asyncio.sleep(0.003)
                with open(sys.argv[1], "a") as out:
                    out.writelines(m.event_id + "\\n" for m in messages)

        async def main():
            store = SqliteStore({str(path)!r})
            await store.open()
            relay = OutboxRelay(store, Sender(), poll_seconds=0.01, batch=20)
            await relay.start()
            while await store.pending_outbox(1):
                await asyncio.sleep(0.01)
            await relay.stop()
            await store.close()

        asyncio.run(main())
        """
    )
    outputs = [tmp_path / f"sent-{n}.txt" for n in range(2)]
    procs = [
        await asyncio.create_subprocess_exec(sys.executable, "-c", script, str(out))
        for out in outputs
    ]
    for proc in procs:
        assert await asyncio.wait_for(proc.wait(), 60) == 0
    per_process = [out.read_text().split() if out.exists() else [] for out in outputs]
    total = collections.Counter(e for sent in per_process for e in sent)
    assert set(total) == expected and set(total.values()) == {1}, json.dumps(
        {e: n for e, n in total.items() if n != 1}
    )


async def test_a_crashed_relays_rows_are_published_by_another_after_its_lease() -> None:
    store = InMemoryStore()
    expected = await commit_events(store, docs=5, per_doc=2)
    crashed = OutboxRelay(store, CountingSender(), lease_seconds=0.3, owner="crashed")
    claimed = await store.claim_pending(crashed.owner, crashed.lease_seconds, 500)
    assert len(claimed) == 10  # ...and the process dies before it publishes or settles
    survivor_sender = CountingSender()
    survivor = OutboxRelay(store, survivor_sender, poll_seconds=0.02, owner="survivor")
    assert await survivor.publish_pending() == 0  # the lease still holds
    await survivor.start()
    try:
        await wait_until_empty(store, timeout=5)
    finally:
        await survivor.stop()
    assert set(survivor_sender.acked) == expected and set(survivor_sender.acked.values()) == {1}


def too_large(limit: int) -> Verdict:
    def verdict(m: OutboxMessage, batch: Sequence[OutboxMessage]) -> BaseException | None:
        if len(m.value) > limit:
            return TOO_LARGE(f"{len(m.value)} bytes")
        return None

    return verdict


async def test_a_message_that_can_never_be_published_is_quarantined_not_retried_forever(
    tmp_path: Path,
) -> None:
    store = SqliteStore(tmp_path / "s.sqlite")
    await store.open()
    huge = OutboxMessage("huge", "t", b"k", b"x" * 5000, (("event_type", b"x"),))
    await store.commit(Commit("docs", "d1", 0, {}, outbox=[msg("before"), huge, msg("after")]))
    await store.commit(Commit("docs", "d2", 0, {}, outbox=[msg("other")]))
    sender = CountingSender(verdict=too_large(1000))
    relay = OutboxRelay(store, sender, poll_seconds=0.02, owner="r")
    await relay.start()
    try:
        await wait_until_empty(store, timeout=5)
        await store.commit(Commit("docs", "d1", 1, {}, outbox=[msg("later")]))
        await wait_until_empty(store, timeout=5)
    finally:
        await relay.stop()
    assert sender.acked == collections.Counter(["before", "after", "other", "later"])
    assert (relay.published, relay.quarantined) == (4, 1)
    [q] = await store.quarantined_outbox()
    assert (q.collection, q.doc_id, q.message) == ("docs", "d1", huge)
    assert q.reason == "MessageSizeTooLargeError: [Error 10] MessageSizeTooLargeError: 5000 bytes"
    assert sender.batches.count(["huge"]) == 1  # tried once alone, then never again
    await store.close()


async def test_a_whole_batch_refused_for_one_bad_message_quarantines_only_that_one() -> None:
    """A broker refuses a record batch for one record that is too large: the relay retries each
    refused message on its own and quarantines only the one that still fails."""
    store = InMemoryStore()
    await store.commit(
        Commit("docs", "d", 0, {}, outbox=[msg("a"), msg("big", b"x" * 50), msg("b")])
    )

    def refuse_batches_with_a_big_one(
        m: OutboxMessage, batch: Sequence[OutboxMessage]
    ) -> BaseException | None:
        if any(len(x.value) > 10 for x in batch):
            return TOO_LARGE("batch too large")
        return None

    sender = CountingSender(verdict=refuse_batches_with_a_big_one)
    relay = OutboxRelay(store, sender, owner="r")
    assert await relay.publish_pending() == 3
    assert sender.acked == collections.Counter(["a", "b"])
    assert [q.message.event_id for q in await store.quarantined_outbox()] == ["big"]
    assert await store.pending_outbox() == []


async def test_a_transient_failure_keeps_the_rows_and_the_lease_and_retries() -> None:
    store = InMemoryStore()
    await store.commit(Commit("docs", "d1", 0, {}, outbox=[msg("a")]))
    await store.commit(Commit("docs", "d2", 0, {}, outbox=[msg("b")]))
    down = True

    def broker(m: OutboxMessage, batch: Sequence[OutboxMessage]) -> BaseException | None:
        return DOWN("broker down") if down and m.event_id == "b" else None

    sender = CountingSender(verdict=broker)
    relay = OutboxRelay(store, sender, owner="r")
    with pytest.raises(PublishIncomplete, match="1 of 2"):
        await relay.publish_pending()
    assert [p.message.event_id for p in await store.pending_outbox()] == ["b"]
    assert await store.quarantined_outbox() == []
    assert await store.claim_pending("other", 60) == []  # "d2" stays this relay's to retry
    down = False
    assert await relay.publish_pending() == 1
    assert sender.acked == collections.Counter(["a", "b"])
    assert await store.pending_outbox() == []


async def test_a_sender_that_raises_publishes_nothing_and_loses_nothing() -> None:
    store = InMemoryStore()
    await store.commit(Commit("docs", "d", 0, {}, outbox=[msg("a")]))

    class Down(CountingSender):
        async def send_batch(self, messages: Sequence[OutboxMessage]) -> list[BaseException | None]:
            raise KafkaConnectionError("no broker")

    relay = OutboxRelay(store, Down(), owner="r")
    with pytest.raises(PublishIncomplete):
        await relay.publish_pending()
    assert [p.message.event_id for p in await store.pending_outbox()] == ["a"]
    assert await store.quarantined_outbox() == []


async def test_a_sender_answering_none_means_all_acknowledged() -> None:
    store = InMemoryStore()
    await store.commit(Commit("docs", "d", 0, {}, outbox=[msg("a"), msg("b")]))

    class AllOrRaise(CountingSender):
        async def send_batch(self, messages: Sequence[OutboxMessage]) -> None:  # type: ignore[override]
            return None

    relay = OutboxRelay(store, AllOrRaise(), owner="r")
    assert await relay.publish_pending() == 2
    assert await store.pending_outbox() == [] and relay.published == 2


def test_permanent_failures_are_only_the_ones_that_can_never_succeed() -> None:
    assert permanent_failure(MessageSizeTooLargeError("x")) is not None
    assert permanent_failure(KafkaConnectionError("x")) is None
    assert permanent_failure(TimeoutError("x")) is None


def test_the_lease_setting_is_documented_and_outlasts_a_publish() -> None:
    field = OutboxSettings.model_fields["lease_seconds"]
    assert field.description and field.default > 30.0  # the sender's send timeout
    assert OutboxRelay(InMemoryStore(), CountingSender()).lease_seconds == field.default
    owners = {OutboxRelay(InMemoryStore(), CountingSender()).owner for _ in range(3)}
    assert len(owners) == 3  # one owner id per relay instance, even in one process


async def test_caught_up_waits_until_what_was_committed_is_published() -> None:
    store = InMemoryStore()
    sender = CountingSender(delay=0.05)
    relay = OutboxRelay(store, sender, poll_seconds=5.0)
    await relay.start()
    try:
        assert await relay.caught_up(1.0)  # nothing committed: at once
        committed = await commit_events(store, docs=3, per_doc=2)
        assert not sender.acked  # not published yet: the relay has not run
        assert await relay.caught_up(2.0)
        assert set(sender.acked) == committed
    finally:
        await relay.stop()


async def test_caught_up_gives_up_after_its_timeout_while_publishing_fails() -> None:
    class Down(CountingSender):
        async def send_batch(self, messages: Sequence[OutboxMessage]) -> list[BaseException | None]:
            raise DOWN("broker down")

    store = InMemoryStore()
    relay = OutboxRelay(store, Down(), poll_seconds=0.05)
    await relay.start()
    try:
        await commit_events(store, docs=1, per_doc=1)
        started = asyncio.get_running_loop().time()
        assert not await relay.caught_up(0.2)
        assert asyncio.get_running_loop().time() - started < 1.0
    finally:
        await relay.stop()
