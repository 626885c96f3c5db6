"""The typed repository keeps `apply_once`'s semantics (inbox, no-change, atomic outbox), and
`update_many` gives exactly what `update` for each item in order gives; a `flush` sees what was
loaded before each commit replaces it and what was committed right after."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from rebal_runtime.repository import Committed, DocumentMapper, Outcome, Repository, Work
from rebal_runtime.store import Commit, Document, InMemoryStore
from rebal_runtime.store.port import IndexValue, JsonDict
from rebal_schemas import RebalanceRequested, TriggerReason

AT = datetime(2024, 7, 1, 14, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Counter:
    count: int


def _index(counter: Counter) -> Mapping[str, IndexValue]:
    return {"count": counter.count}


def _to(counter: Counter) -> JsonDict:
    return {"count": counter.count}


def _from(state: JsonDict) -> Counter:
    return Counter(int(state["count"]))


MAPPER = DocumentMapper(_to, _from, _index)


def event(event_id: str) -> RebalanceRequested:
    return RebalanceRequested(
        event_id=event_id,
        occurred_at=AT,
        recorded_at=AT,
        producer="test",
        scope="all",
        reason=TriggerReason("nightly"),
    )


def bump(current: Counter | None) -> Outcome[Counter]:
    count = 1 if current is None else current.count + 1
    return Outcome(Counter(count), publish=[event(f"e-{count}")])


async def bump_async(current: Counter | None) -> Outcome[Counter]:
    return bump(current)


def nothing(current: Counter | None) -> None:
    return None


def repo() -> tuple[InMemoryStore, Repository[Counter]]:
    store = InMemoryStore()
    return store, Repository(store, "counters", MAPPER)


async def test_update_commits_state_events_and_index() -> None:
    store, counters = repo()
    committed = await counters.update("c", "in-1", bump)
    assert committed == Committed(Counter(1), (event("e-1"),))
    assert await counters.load("c") == Counter(1)
    doc = await store.load("counters", "c")
    assert doc is not None and doc.has_processed("in-1")
    assert [p.message.event_id for p in await store.pending_outbox()] == ["e-1"]
    assert await counters.ids("count", 1) == ["c"]


async def test_async_steps_and_a_missing_document() -> None:
    _, counters = repo()
    assert await counters.load("c") is None
    committed = await counters.update("c", None, bump_async)
    assert committed is not None and committed.aggregate == Counter(1)


async def test_an_applied_event_is_skipped() -> None:
    _, counters = repo()
    await counters.update("c", "in-1", bump)
    assert await counters.update("c", "in-1", bump) is None
    assert await counters.load("c") == Counter(1)


async def test_no_change_still_records_the_event_id() -> None:
    store, counters = repo()
    await counters.update("c", None, bump)
    assert await counters.update("c", "in-2", nothing) is None
    doc = await store.load("counters", "c")
    assert doc is not None and doc.has_processed("in-2") and doc.version == 2
    # and nothing at all is written for a missing document
    assert await counters.update("absent", "in-3", nothing) is None
    assert await store.load("counters", "absent") is None


async def test_outcome_index_is_merged_over_the_mappers() -> None:
    _, counters = repo()

    def tagged(current: Counter | None) -> Outcome[Counter]:
        return Outcome(Counter(5), index={"tag": "x", "count": 9})

    await counters.update("c", None, tagged)
    assert await counters.query("tag", "x") == ["c"]
    assert await counters.ids("count", 9) == ["c"]
    assert await counters.ids("count", 9, op="le") == ["c"]


async def test_update_many_equals_update_in_order() -> None:
    _, counters = repo()
    await counters.update("b", "seen", bump)
    works = [
        Work("a", "1", bump),
        Work("b", "seen", bump),  # already applied
        Work("a", "2", bump_async),  # same document: a second round sees the first committed
        Work("b", "3", nothing),
        Work("c", None, nothing),
    ]
    results = await counters.update_many(works)
    assert [r.aggregate if r else None for r in results] == [
        Counter(1),
        None,
        Counter(2),
        None,
        None,
    ]
    assert results[2] is not None and results[2].publish == (event("e-2"),)
    assert await counters.load("a") == Counter(2)
    assert await counters.load("b") == Counter(1)
    assert await counters.load("c") is None
    _, again = await counters.update_many([Work("a", "2", bump), Work("b", "3", bump)])
    assert again is None  # both applied before: the inbox drops them


async def test_together_is_one_read_and_one_write_however_many_items_share_a_document() -> None:
    store, counters = repo()
    await counters.update("b", "seen", bump)
    loads, commits = store.load_many, store.commit_many
    reads: list[Sequence[str]] = []
    writes: list[list[tuple[str, tuple[str, ...]]]] = []

    async def counted_load(collection: str, ids: Sequence[str]) -> dict[str, Document]:
        reads.append(ids)
        return await loads(collection, ids)

    async def counted_commit(batch: Sequence[Commit]) -> list[str]:
        writes.append([(c.id, c.processed_ids) for c in batch])
        return await commits(batch)

    store.load_many = counted_load  # type: ignore[method-assign]
    store.commit_many = counted_commit  # type: ignore[method-assign]
    works = [
        Work("a", "1", bump),
        Work("b", "seen", bump),  # applied before
        Work("a", "2", bump_async),  # on what item 1 left
        Work("a", "1", bump),  # a repeat within the batch: dropped as a redelivery would be
        Work("b", "3", nothing),  # no change: its id still recorded
        Work("a", "4", nothing),
        Work("c", "5", nothing),  # no document, no change: nothing written
    ]
    results = await counters.update_many(works, together=True)
    assert [r.aggregate.count if r else None for r in results] == [
        1,
        None,
        2,
        None,
        None,
        None,
        None,
    ]
    assert len(reads) == 1 and writes == [[("a", ("1", "2", "4")), ("b", ("3",))]]
    assert await counters.load("a") == Counter(2)
    assert await counters.ids("count", 2) == ["a"]
    assert [p.message.event_id for p in await store.pending_outbox()] == ["e-1", "e-1", "e-2"]
    assert await store.load("counters", "c") is None
    # the same as update for each item in order, and a redelivery of it all is dropped
    _, plain = repo()
    await plain.update("b", "seen", bump)
    for work in works:
        await plain.update(work.id, work.event_id, work.step)
    assert await plain.load("a") == Counter(2) and await plain.load("b") == Counter(1)
    writes.clear()
    again = await counters.update_many(works, together=True)
    assert again == [None] * len(works) and writes == []  # nothing to write: no store call


async def test_together_redoes_a_conflicting_document_item_by_item() -> None:
    store, counters = repo()
    await counters.update("a", None, bump)
    calls: list[int] = []

    async def interfere(current: Counter | None) -> Outcome[Counter]:
        if not calls:  # once, another writer commits the document after the round loaded it
            doc = await store.load("counters", "a")
            assert doc is not None
            await store.commit(Commit("counters", "a", doc.version, {"count": 10}))
        calls.append(1)
        return bump(current)

    works = [Work("a", "x", interfere), Work("a", "y", bump), Work("b", "z", bump)]
    results = await counters.update_many(works, together=True)
    assert [r.aggregate.count if r else None for r in results] == [11, 12, 1]
    doc = await store.load("counters", "a")
    assert doc is not None and doc.state == {"count": 12} and doc.processed == ("x", "y")


async def test_update_many_redoes_a_conflicting_commit_alone() -> None:
    store, counters = repo()
    await counters.update("a", None, bump)

    calls: list[int] = []

    async def interfere(current: Counter | None) -> Outcome[Counter]:
        # once, another writer commits the document after this round loaded it
        if not calls:
            doc = await store.load("counters", "a")
            assert doc is not None
            await store.commit(Commit("counters", "a", doc.version, {"count": 10}))
        calls.append(1)
        return bump(current)

    [result] = await counters.update_many([Work("a", "x", interfere)])
    assert result is not None and result.aggregate == Counter(11)
    assert await counters.load("a") == Counter(11)
    assert len(calls) == 2


class Flushes:
    """A `flush` that records what it was given, and the document's version at that moment."""

    def __init__(self, store: InMemoryStore) -> None:
        self.store = store
        self.calls: list[list[tuple[int, int]]] = []  # per call: (count, stored version)

    async def __call__(self, counters: Sequence[Counter]) -> None:
        doc = await self.store.load("counters", "a")
        self.calls.append([(c.count, doc.version if doc else 0) for c in counters])


def flushed_repo() -> tuple[InMemoryStore, Repository[Counter], Flushes]:
    store = InMemoryStore()
    flushes = Flushes(store)
    return store, Repository(store, "counters", MAPPER, flush=flushes), flushes


async def test_update_flushes_the_loaded_aggregate_before_and_the_committed_after() -> None:
    _, counters, flushes = flushed_repo()
    await counters.update("a", "1", bump)  # a new document: nothing loaded
    assert flushes.calls == [[(1, 1)]]
    flushes.calls.clear()
    await counters.update("a", "2", bump)
    assert flushes.calls == [[(1, 1)], [(2, 2)]]  # before the commit replaces it, then after
    flushes.calls.clear()
    await counters.update("a", "3", nothing)  # no change: the loaded one only
    await counters.update("a", "3", bump)  # applied before: nothing at all
    assert flushes.calls == [[(2, 2)]]


async def test_update_many_flushes_once_per_round_before_and_after_its_commit() -> None:
    _, counters, flushes = flushed_repo()
    await counters.update("a", None, bump)
    flushes.calls.clear()
    results = await counters.update_many(
        [Work("a", "x", bump), Work("b", None, bump), Work("a", "y", nothing)]
    )
    assert [r.aggregate.count if r else None for r in results] == [2, 1, None]
    assert flushes.calls == [
        [(1, 1)],  # round 1, loaded (b did not exist)
        [(2, 2), (1, 2)],  # round 1, committed: a and b
        [(2, 2)],  # round 2, loaded a
        [],  # round 2 committed nothing
    ]


async def test_a_conflicting_commit_is_flushed_by_its_redo() -> None:
    store, counters, flushes = flushed_repo()
    await counters.update("a", None, bump)
    await store.commit(Commit("counters", "a", 1, {"count": 10}))  # not seen by the round
    original = store.load_many

    async def stale(collection: str, ids: Sequence[str]) -> dict[str, Document]:
        docs = await original(collection, ids)
        return {i: replace(d, version=1, state={"count": 1}) for i, d in docs.items()}

    store.load_many = stale  # type: ignore[method-assign]
    flushes.calls.clear()
    [result] = await counters.update_many([Work("a", "x", bump)])
    assert result is not None and result.aggregate == Counter(11)
    assert flushes.calls == [[(1, 2)], [], [(10, 2)], [(11, 3)]]
