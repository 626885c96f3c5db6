"""ONE contract suite, run against every DocumentStore adapter.

In-memory fake, SQLite, MongoDB through mongomock-motor (no server here), MongoDB over the real
wire protocol on FerretDB (built by `make ferretdb`, marker `mongo_wire`), and a real MongoDB
through testcontainers when a Docker engine is reachable (skipped with the reason otherwise).
FerretDB's conditional updates are not atomic (docs/design.md §5), so the `contention` cases are
skipped there with that reason and run on every other store.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from rebal_runtime.store import (
    Commit,
    ConcurrencyError,
    DocumentStore,
    InMemoryStore,
    OutboxMessage,
    PendingMessage,
)
from rebal_runtime.store.mongo import MongoStore
from rebal_runtime.store.sqlite import SqliteStore
from rebal_runtime.testing.ferretdb import NOT_ATOMIC_REASON, FerretDB
from rebal_runtime.testing.pytest_plugin import docker_unavailable_reason

ADAPTERS = [
    "memory",
    "sqlite",
    "sqlite-thread",
    "mongomock",
    pytest.param("ferretdb", marks=pytest.mark.mongo_wire),
    pytest.param("mongodb-testcontainers", marks=pytest.mark.docker),
]


# store -> how to open a second instance on the same data (another process sharing the store)
_TWIN_OF: dict[int, Callable[[], DocumentStore]] = {}


@pytest.fixture(params=ADAPTERS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[DocumentStore]:
    kind = request.param
    make: Callable[[], DocumentStore]
    container = None
    drop_database: str | None = None
    if kind == "memory":
        memory = InMemoryStore(processed_ids_kept=3)
        make = lambda: memory  # noqa: E731 - one process: the twin is the same store
    elif kind == "sqlite":
        make = lambda: SqliteStore(tmp_path / "store.sqlite", processed_ids_kept=3)  # noqa: E731
    elif kind == "sqlite-thread":
        make = lambda: SqliteStore(  # noqa: E731
            tmp_path / "store.sqlite", processed_ids_kept=3, inline=False
        )
    elif kind == "mongomock":
        from mongomock_motor import AsyncMongoMockClient

        client: Any = AsyncMongoMockClient()
        make = lambda: MongoStore(client, "contract", processed_ids_kept=3)  # noqa: E731
    elif kind == "ferretdb":
        if request.node.get_closest_marker("contention"):
            pytest.skip(NOT_ATOMIC_REASON)
        server: FerretDB = request.getfixturevalue("ferretdb")
        drop_database = f"contract_{uuid.uuid4().hex[:12]}"  # one empty database per test
        database = drop_database
        make = lambda: MongoStore.from_url(server.url, database, processed_ids_kept=3)  # noqa: E731
    else:
        reason = docker_unavailable_reason()
        if reason:
            pytest.skip(f"real MongoDB needs testcontainers and Docker: {reason}")
        from testcontainers.mongodb import MongoDbContainer

        container = MongoDbContainer("mongo:7")
        container.start()
        url = container.get_connection_url()
        make = lambda: MongoStore.from_url(url, "contract", processed_ids_kept=3)  # noqa: E731
    s = make()
    await s.open()
    _TWIN_OF[id(s)] = make
    yield s
    del _TWIN_OF[id(s)]
    if drop_database is not None:
        assert isinstance(s, MongoStore)
        await s.client.drop_database(drop_database)
    await s.close()
    if container is not None:
        container.stop()


@pytest.fixture
async def twin(store: DocumentStore) -> AsyncIterator[DocumentStore]:
    """A second instance of the adapter on the same data: another process sharing the store
    (a connection of its own; the in-memory store is its own twin)."""
    other = _TWIN_OF[id(store)]()
    if other is store:
        yield store
        return
    if isinstance(other, MongoStore):
        other.relist_collections_seconds = 0  # sees collections created after it opened at once
    await other.open()
    yield other
    await other.close()


def msg(event_id: str, topic: str = "t") -> OutboxMessage:
    return OutboxMessage(event_id, topic, b"k", b'{"x":1}', (("event_type", b"x"),))


async def test_create_load_and_version(store: DocumentStore) -> None:
    assert await store.load("portfolios", "p1") is None
    v = await store.commit(Commit("portfolios", "p1", 0, {"cash": "10.00"}, "e1"))
    assert v == 1
    doc = await store.load("portfolios", "p1")
    assert doc is not None
    assert (doc.version, doc.state, doc.processed) == (1, {"cash": "10.00"}, ("e1",))
    assert await store.commit(Commit("portfolios", "p1", 1, {"cash": "20.00"}, "e2")) == 2
    doc = await store.load("portfolios", "p1")
    assert doc is not None and doc.state == {"cash": "20.00"} and doc.version == 2


async def test_stale_version_is_refused_and_changes_nothing(store: DocumentStore) -> None:
    await store.commit(Commit("portfolios", "p1", 0, {"n": 1}))
    with pytest.raises(ConcurrencyError):
        await store.commit(Commit("portfolios", "p1", 0, {"n": 99}, outbox=[msg("lost")]))
    await store.commit(Commit("portfolios", "p1", 1, {"n": 2}))
    with pytest.raises(ConcurrencyError):
        await store.commit(Commit("portfolios", "p1", 1, {"n": 99}, "e", outbox=[msg("lost2")]))
    doc = await store.load("portfolios", "p1")
    assert doc is not None and doc.state == {"n": 2} and doc.version == 2
    assert [p.message.event_id for p in await store.pending_outbox()] == []


async def test_processed_ids_are_a_bounded_window(store: DocumentStore) -> None:
    version = 0
    for i in range(5):
        version = await store.commit(Commit("portfolios", "p1", version, {"i": i}, f"e{i}"))
    doc = await store.load("portfolios", "p1")
    assert doc is not None
    assert doc.processed == ("e2", "e3", "e4")
    assert doc.has_processed("e4") and not doc.has_processed("e0")


async def test_one_commit_records_several_processed_ids_in_order(store: DocumentStore) -> None:
    await store.commit(Commit("portfolios", "p1", 0, {"i": 0}, "e0", also_processed=("e1",)))
    [conflict] = await store.commit_many(
        [Commit("portfolios", "p1", 0, {"i": 9}, "x", also_processed=("y",))]
    )
    assert conflict == "p1"
    await store.commit_many([Commit("portfolios", "p1", 1, {"i": 3}, "e2", also_processed=["e3"])])
    doc = await store.load("portfolios", "p1")
    assert doc is not None and doc.state == {"i": 3} and doc.version == 2
    assert doc.processed == ("e1", "e2", "e3")  # the window of 3 keeps the latest, in order
    await store.commit(Commit("portfolios", "p2", 0, {}, also_processed=("only",)))
    doc = await store.load("portfolios", "p2")
    assert doc is not None and doc.processed == ("only",)


async def test_outbox_is_written_with_the_state_and_marked_published(store: DocumentStore) -> None:
    await store.commit(Commit("portfolios", "p1", 0, {}, outbox=[msg("a"), msg("b")]))
    await store.commit(Commit("portfolios", "p2", 0, {}, outbox=[msg("c")]))
    await store.commit(Commit("portfolios", "p1", 1, {"x": 1}, outbox=[msg("d")]))
    pending = await store.pending_outbox()
    ids = [p.message.event_id for p in pending]
    assert sorted(ids) == ["a", "b", "c", "d"]
    p1 = [p.message.event_id for p in pending if p.doc_id == "p1"]
    assert p1 == ["a", "b", "d"]  # commit order within a document
    first = pending[0].message
    assert (first.topic, first.key, first.value, first.headers) == (
        "t",
        b"k",
        b'{"x":1}',
        (("event_type", b"x"),),
    )
    await store.mark_published([p for p in pending if p.message.event_id in ("a", "c")])
    assert sorted(p.message.event_id for p in await store.pending_outbox()) == ["b", "d"]
    doc = await store.load("portfolios", "p1")
    assert doc is not None and doc.version == 2  # marking sent does not touch the aggregate


async def test_pending_outbox_respects_limit(store: DocumentStore) -> None:
    await store.commit(Commit("runs", "r", 0, {}, outbox=[msg(f"m{i}") for i in range(7)]))
    assert len(await store.pending_outbox(limit=5)) == 5


async def test_index_queries_eq_le_and_paging(store: DocumentStore) -> None:
    for i, model in enumerate(["m1", "m2", "m1", "m1"]):
        await store.commit(
            Commit(
                "portfolios", f"p{i}", 0, {}, index={"model_id": model, "due": f"2026-01-0{i + 1}"}
            )
        )
    assert await store.query("portfolios", "model_id", "m1") == ["p0", "p2", "p3"]
    assert await store.query("portfolios", "model_id", "m1", limit=2) == ["p0", "p2"]
    assert await store.query("portfolios", "model_id", "m1", after_id="p2") == ["p3"]
    assert await store.query("portfolios", "due", "2026-01-02", op="le") == ["p0", "p1"]
    # changing and clearing an index value
    await store.commit(Commit("portfolios", "p0", 1, {}, index={"model_id": "m2", "due": None}))
    assert await store.query("portfolios", "model_id", "m2") == ["p0", "p1"]
    assert await store.query("portfolios", "due", "2026-01-09", op="le") == ["p1", "p2", "p3"]


async def test_scan_pages_through_a_collection(store: DocumentStore) -> None:
    for i in range(5):
        await store.commit(Commit("portfolios", f"p{i}", 0, {}))
    await store.commit(Commit("models", "m", 0, {}))
    assert await store.scan("portfolios", limit=3) == ["p0", "p1", "p2"]
    assert await store.scan("portfolios", after_id="p2") == ["p3", "p4"]


async def test_append_only_is_idempotent_by_id(store: DocumentStore) -> None:
    assert await store.append("optimizations", "o1", {"v": 1}) is True
    assert await store.append("optimizations", "o1", {"v": 2}) is False
    assert await store.get_appended("optimizations", "o1") == {"v": 1}
    assert await store.get_appended("optimizations", "missing") is None


@pytest.mark.contention
async def test_concurrent_commits_on_one_version_let_exactly_one_win(store: DocumentStore) -> None:
    await store.commit(Commit("portfolios", "p", 0, {"n": 0}))
    results = await asyncio.gather(
        *(store.commit(Commit("portfolios", "p", 1, {"n": i}, f"e{i}")) for i in range(5)),
        return_exceptions=True,
    )
    assert sum(1 for r in results if r == 2) == 1
    assert sum(1 for r in results if isinstance(r, ConcurrencyError)) == 4


async def test_commit_notifies_listeners_only_when_outbox_grew(store: DocumentStore) -> None:
    calls: list[int] = []
    store.on_commit(lambda: calls.append(1))
    await store.commit(Commit("portfolios", "p", 0, {}))
    await store.commit(Commit("portfolios", "p", 1, {}, outbox=[msg("x")]))
    assert calls == [1]


async def test_load_many_returns_the_existing_documents_by_id(store: DocumentStore) -> None:
    await store.commit(Commit("portfolios", "p1", 0, {"n": 1}, "e1"))
    await store.commit(Commit("portfolios", "p2", 0, {"n": 2}))
    await store.commit(Commit("models", "p3", 0, {"n": 3}))
    found = await store.load_many("portfolios", ["p2", "missing", "p1", "p2", "p3"])
    assert sorted(found) == ["p1", "p2"]
    assert (found["p1"].version, found["p1"].state, found["p1"].processed) == (1, {"n": 1}, ("e1",))
    assert found["p2"].state == {"n": 2}
    assert await store.load_many("portfolios", []) == {}


async def test_load_many_pages_past_the_parameter_limit(store: DocumentStore) -> None:
    ids = [f"p{i:04d}" for i in range(1200)]
    conflicts = await store.commit_many([Commit("portfolios", i, 0, {"i": i}) for i in ids])
    assert conflicts == []
    found = await store.load_many("portfolios", ids)
    assert len(found) == 1200 and found["p1199"].state == {"i": "p1199"}


async def test_commit_many_writes_each_and_reports_only_the_conflicts(store: DocumentStore) -> None:
    await store.commit(Commit("portfolios", "p1", 0, {"n": 1}))
    await store.commit(Commit("portfolios", "p2", 0, {"n": 1}))
    conflicts = await store.commit_many(
        [
            Commit("portfolios", "p1", 1, {"n": 2}, "e1", outbox=[msg("m1")], index={"model": "a"}),
            Commit("portfolios", "p2", 7, {"n": 99}, "e2", outbox=[msg("m2")]),  # stale version
            Commit("portfolios", "p3", 0, {"n": 1}, "e3", outbox=[msg("m3")]),
        ]
    )
    assert conflicts == ["p2"]
    p1, p2 = await store.load("portfolios", "p1"), await store.load("portfolios", "p2")
    assert p1 is not None and (p1.version, p1.state, p1.processed) == (2, {"n": 2}, ("e1",))
    assert p2 is not None and (p2.version, p2.state, p2.processed) == (1, {"n": 1}, ())
    assert await store.query("portfolios", "model", "a") == ["p1"]
    pending = [p.message.event_id for p in await store.pending_outbox()]
    assert sorted(pending) == ["m1", "m3"]  # nothing of the refused commit


async def test_commit_many_refuses_two_commits_of_one_document(store: DocumentStore) -> None:
    with pytest.raises(ValueError, match="one commit per document"):
        await store.commit_many(
            [Commit("portfolios", "p", 0, {}), Commit("portfolios", "p", 1, {})]
        )
    assert await store.load("portfolios", "p") is None


async def test_commit_many_notifies_once_when_an_outbox_grew(store: DocumentStore) -> None:
    calls: list[int] = []
    store.on_commit(lambda: calls.append(1))
    await store.commit_many([Commit("portfolios", "a", 0, {}), Commit("portfolios", "b", 0, {})])
    assert calls == []
    await store.commit_many(
        [
            Commit("portfolios", "c", 0, {}, outbox=[msg("x")]),
            Commit("portfolios", "d", 0, {}, outbox=[msg("y")]),
        ]
    )
    assert calls == [1]


async def test_append_many_is_idempotent_by_id(store: DocumentStore) -> None:
    assert await store.append("optimizations", "o1", {"v": 1}) is True
    added = await store.append_many("optimizations", [("o1", {"v": 9}), ("o2", {"v": 2})])
    assert added == 1
    assert await store.get_appended("optimizations", "o1") == {"v": 1}
    assert await store.get_appended("optimizations", "o2") == {"v": 2}
    assert await store.append_many("optimizations", []) == 0


# -- outbox claims: several relays on one store (two instances of a service) ------------------

T0 = 1_000_000.0  # claims take an explicit `now` (Unix time): leases expire without sleeping


def ids(pending: Iterable[PendingMessage]) -> list[str]:
    return [p.message.event_id for p in pending]


async def test_a_live_lease_keeps_other_owners_off_until_it_expires(store: DocumentStore) -> None:
    await store.commit(Commit("portfolios", "p1", 0, {}, outbox=[msg("a"), msg("b")]))
    await store.commit(Commit("portfolios", "p2", 0, {}, outbox=[msg("c")]))
    claimed = await store.claim_pending("A", 30, now=T0)
    assert sorted(ids(claimed)) == ["a", "b", "c"]
    assert ids(p for p in claimed if p.doc_id == "p1") == ["a", "b"]  # commit order per document
    assert (claimed[0].message.topic, claimed[0].message.headers) == ("t", (("event_type", b"x"),))
    assert await store.claim_pending("B", 30, now=T0 + 29.9) == []
    # the owner itself may claim again (a retry after a failed publish), which renews the lease
    assert sorted(ids(await store.claim_pending("A", 30, now=T0 + 20))) == ["a", "b", "c"]
    assert await store.claim_pending("B", 30, now=T0 + 49.9) == []
    # a claim is a read-only view for everyone else: pending_outbox still lists everything
    assert sorted(ids(await store.pending_outbox())) == ["a", "b", "c"]


async def test_an_expired_lease_is_claimable_by_anyone(store: DocumentStore) -> None:
    await store.commit(Commit("portfolios", "p1", 0, {}, outbox=[msg("a"), msg("b")]))
    assert ids(await store.claim_pending("A", 30, now=T0)) == ["a", "b"]  # then A "crashes"
    assert ids(await store.claim_pending("B", 30, now=T0 + 30)) == ["a", "b"]
    assert await store.claim_pending("A", 30, now=T0 + 31) == []  # B holds it now
    assert await store.claim_pending("C", 30, now=T0 + 59) == []
    assert ids(await store.claim_pending("C", 30, now=T0 + 60)) == ["a", "b"]


async def test_settled_messages_are_never_claimed_again(store: DocumentStore) -> None:
    await store.commit(Commit("portfolios", "p1", 0, {}, outbox=[msg("a"), msg("b")]))
    await store.commit(Commit("portfolios", "p2", 0, {}, outbox=[msg("c")]))
    claimed = await store.claim_pending("A", 30, now=T0)
    await store.settle([p for p in claimed if p.message.event_id != "b"], owner="A", now=T0 + 1)
    assert ids(await store.pending_outbox()) == ["b"]
    assert ids(await store.claim_pending("A", 30, now=T0 + 2)) == ["b"]
    await store.settle([p for p in claimed if p.message.event_id == "b"], owner="A", now=T0 + 3)
    for owner, at in (("A", T0 + 4), ("B", T0 + 4), ("B", T0 + 1000)):
        assert await store.claim_pending(owner, 30, now=at) == []
    assert await store.pending_outbox() == []


async def test_the_same_event_committed_again_while_claimed_survives_the_first_settle(
    store: DocumentStore,
) -> None:
    """A re-publish commits the very event again (same id, same bytes) while the relay may hold
    the first row published but not yet settled: settling the first row leaves the second."""
    await store.commit(Commit("portfolios", "p1", 0, {}, outbox=[msg("a")]))
    claimed = await store.claim_pending("A", 30, now=T0)
    await store.commit(Commit("portfolios", "p1", 1, {}, outbox=[msg("a")]))
    await store.settle(claimed, owner="A", now=T0 + 1)
    assert ids(await store.pending_outbox()) == ["a"]
    again = await store.claim_pending("A", 30, now=T0 + 2)
    assert ids(again) == ["a"]
    await store.settle(again, owner="A", now=T0 + 3)
    assert await store.pending_outbox() == []


async def test_settling_releases_the_lease_so_new_commits_need_not_wait(
    store: DocumentStore,
) -> None:
    await store.commit(Commit("portfolios", "p1", 0, {}, outbox=[msg("a")]))
    claimed = await store.claim_pending("A", 30, now=T0)
    await store.commit(Commit("portfolios", "p1", 1, {}, outbox=[msg("b")]))  # while A publishes
    assert await store.claim_pending("B", 30, now=T0 + 1) == []  # p1 is A's until it settles
    await store.settle(claimed, owner="A", now=T0 + 2)
    assert ids(await store.claim_pending("B", 30, now=T0 + 3)) == ["b"]


async def test_a_late_settle_removes_its_rows_but_never_releases_another_owners_lease(
    store: DocumentStore,
) -> None:
    await store.commit(Commit("portfolios", "p1", 0, {}, outbox=[msg("a"), msg("b")]))
    late = await store.claim_pending("A", 30, now=T0)
    assert ids(await store.claim_pending("B", 30, now=T0 + 31)) == ["a", "b"]  # A was too slow
    # A's publish of "a" was acknowledged after all: removing it is right, whoever holds the lease
    await store.settle(late[:1], owner="A", now=T0 + 32)
    assert ids(await store.pending_outbox()) == ["b"]
    assert await store.claim_pending("C", 30, now=T0 + 33) == []  # still B's lease
    await store.mark_published(late[:1], owner="A")  # idempotent
    assert ids(await store.pending_outbox()) == ["b"]


async def test_a_claim_respects_its_limit_and_leaves_the_rest_to_others(
    store: DocumentStore,
) -> None:
    await store.commit(Commit("runs", "r1", 0, {}, outbox=[msg(f"m{i}") for i in range(7)]))
    await store.commit(Commit("runs", "r2", 0, {}, outbox=[msg("n0")]))
    first = await store.claim_pending("A", 30, limit=5, now=T0)
    assert ids(first) == ["m0", "m1", "m2", "m3", "m4"]
    assert ids(await store.claim_pending("B", 30, limit=5, now=T0 + 1)) == ["n0"]  # r1 is A's
    await store.settle(first, owner="A", now=T0 + 2)
    assert ids(await store.claim_pending("A", 30, limit=5, now=T0 + 3)) == ["m5", "m6"]


async def test_a_claim_never_touches_the_aggregate_nor_a_concurrent_commit(
    store: DocumentStore,
) -> None:
    await store.commit(Commit("portfolios", "p1", 0, {"n": 1}, "e1", outbox=[msg("a")]))
    claimed = await store.claim_pending("A", 30, now=T0)
    doc = await store.load("portfolios", "p1")
    assert doc is not None and (doc.version, doc.state, doc.processed) == (1, {"n": 1}, ("e1",))
    # a handler commits at the version it read before the claim: no spurious conflict
    assert await store.commit(Commit("portfolios", "p1", 1, {"n": 2}, "e2", outbox=[msg("b")])) == 2
    await store.settle(claimed, owner="A", now=T0 + 1)
    doc = await store.load("portfolios", "p1")
    assert doc is not None and (doc.version, doc.state, doc.processed) == (
        2,
        {"n": 2},
        ("e1", "e2"),
    )
    assert ids(await store.pending_outbox()) == ["b"]  # the commit's row survived the settle


async def test_quarantine_moves_a_message_out_of_the_pending_set_and_keeps_it(
    store: DocumentStore,
) -> None:
    huge = OutboxMessage("big", "t", b"k", b"x" * 2000, (("event_type", b"x"),))
    await store.commit(Commit("portfolios", "p1", 0, {}, outbox=[msg("a"), huge, msg("c")]))
    claimed = await store.claim_pending("A", 30, now=T0)
    assert ids(claimed) == ["a", "big", "c"]
    published = [p for p in claimed if p.message.event_id != "big"]
    poison = [(p, "MessageSizeTooLargeError: too big") for p in claimed if p.message == huge]
    assert await store.quarantined_outbox() == []
    await store.settle(published, poison, owner="A", now=T0 + 1)
    assert await store.pending_outbox() == []
    for owner in ("A", "B"):
        assert await store.claim_pending(owner, 30, now=T0 + 2) == []
    [q] = await store.quarantined_outbox()
    assert (q.collection, q.doc_id, q.message, q.reason, q.quarantined_at) == (
        "portfolios",
        "p1",
        huge,
        "MessageSizeTooLargeError: too big",
        T0 + 1,
    )
    await store.settle((), poison, owner="A", now=T0 + 5)  # again (a retry): no second entry
    assert len(await store.quarantined_outbox()) == 1
    doc = await store.load("portfolios", "p1")
    assert doc is not None and doc.version == 1


@pytest.mark.contention
async def test_concurrent_claimers_get_disjoint_messages(
    store: DocumentStore, twin: DocumentStore
) -> None:
    commits = [
        Commit("runs", f"r{i:03d}", 0, {}, outbox=[msg(f"r{i}a"), msg(f"r{i}b")]) for i in range(60)
    ]
    assert await store.commit_many(commits) == []
    everything = {f"r{i}{s}" for i in range(60) for s in "ab"}
    rounds = await asyncio.gather(
        *((store, twin)[n % 2].claim_pending(f"owner{n}", 30, limit=9, now=T0) for n in range(12))
    )
    seen = [e for claimed in rounds for e in ids(claimed)]
    assert len(seen) == len(set(seen)) and set(seen) <= everything
    assert seen  # (a claimer that lost every race may come back empty: it polls again)
    by_doc: dict[str, int] = {}
    for n, claimed in enumerate(rounds):
        for p in claimed:
            assert by_doc.setdefault(p.doc_id, n) == n  # one owner per document
    # each publishes and settles; the rest is there for the next claimer and nothing was lost
    await asyncio.gather(
        *(
            (store, twin)[n % 2].settle(c, owner=f"owner{n}", now=T0 + 1)
            for n, c in enumerate(rounds)
        )
    )
    rest = await store.claim_pending("late", 30, limit=1000, now=T0 + 2)
    assert sorted(ids(rest)) == sorted(everything - set(seen))


async def test_another_instance_claims_what_a_crashed_one_left(
    store: DocumentStore, twin: DocumentStore
) -> None:
    # `store` opened first; then it creates a collection, commits, claims and "crashes"
    await store.commit(Commit("brand_new", "d1", 0, {}, outbox=[msg("a"), msg("b")]))
    assert ids(await store.claim_pending("A", 30, now=T0)) == ["a", "b"]
    assert await twin.claim_pending("B", 30, now=T0 + 10) == []
    claimed = await twin.claim_pending("B", 30, now=T0 + 30)
    assert ids(claimed) == ["a", "b"]
    await twin.settle(claimed, owner="B", now=T0 + 31)
    assert await store.pending_outbox() == [] and await twin.pending_outbox() == []
    assert await store.claim_pending("A", 30, now=T0 + 100) == []


# -- named leases: one owner at a time for a piece of work (two instances of a service) -------


async def test_a_free_lease_is_acquired_and_names_are_independent(store: DocumentStore) -> None:
    assert await store.acquire_lease("run:r1", "A", 30, now=T0) is True
    assert await store.acquire_lease("run:r2", "B", 30, now=T0) is True  # another name
    # the outbox's leases are not these: a claim of document r1 is not blocked by run:r1
    await store.commit(Commit("runs", "r1", 0, {}, outbox=[msg("a")]))
    assert ids(await store.claim_pending("B", 30, now=T0)) == ["a"]
    assert await store.acquire_lease("run:r1", "B", 30, now=T0 + 1) is False
    doc = await store.load("runs", "r1")
    assert doc is not None and doc.version == 1  # a lease never touches an aggregate


async def test_a_held_lease_is_refused_to_another_owner_until_released(
    store: DocumentStore, twin: DocumentStore
) -> None:
    assert await store.acquire_lease("run:r1", "A", 30, now=T0) is True
    assert await store.acquire_lease("run:r1", "B", 30, now=T0 + 29.9) is False
    assert await twin.acquire_lease("run:r1", "B", 30, now=T0 + 1) is False  # another process
    assert await store.release_lease("run:r1", "A") is True
    assert await twin.acquire_lease("run:r1", "B", 30, now=T0 + 2) is True  # at once
    assert await store.acquire_lease("run:r1", "A", 30, now=T0 + 3) is False
    assert await store.release_lease("run:r1", "A") is False  # not A's any more


async def test_an_expired_lease_is_taken_over(store: DocumentStore, twin: DocumentStore) -> None:
    assert await store.acquire_lease("run:r1", "A", 30, now=T0) is True  # then A "crashes"
    assert await twin.acquire_lease("run:r1", "B", 30, now=T0 + 29.9) is False
    assert await twin.acquire_lease("run:r1", "B", 30, now=T0 + 30) is True
    # the former owner is an owner like any other now: refused while B's lease lives
    assert await store.acquire_lease("run:r1", "A", 30, now=T0 + 31) is False
    assert await store.release_lease("run:r1", "A") is False  # and cannot end B's
    assert await store.acquire_lease("run:r1", "C", 30, now=T0 + 59.9) is False
    assert await store.acquire_lease("run:r1", "C", 30, now=T0 + 60) is True


async def test_the_owner_renews_its_lease(store: DocumentStore) -> None:
    assert await store.acquire_lease("run:r1", "A", 30, now=T0) is True
    assert await store.acquire_lease("run:r1", "A", 30, now=T0 + 20) is True  # until T0 + 50
    assert await store.acquire_lease("run:r1", "B", 30, now=T0 + 49.9) is False
    assert await store.acquire_lease("run:r1", "A", 5, now=T0 + 45) is True  # until T0 + 50 too
    assert await store.acquire_lease("run:r1", "B", 30, now=T0 + 50) is True
    # an owner may also take back its own expired lease if nobody else did
    assert await store.acquire_lease("run:r2", "A", 1, now=T0) is True
    assert await store.acquire_lease("run:r2", "A", 1, now=T0 + 10) is True
    assert await store.acquire_lease("run:r2", "B", 1, now=T0 + 10.5) is False


async def test_release_by_a_non_owner_does_nothing(store: DocumentStore) -> None:
    assert await store.release_lease("run:r1", "A") is False  # nobody holds it
    assert await store.acquire_lease("run:r1", "A", 30, now=T0) is True
    assert await store.release_lease("run:r1", "B") is False
    assert await store.acquire_lease("run:r1", "B", 30, now=T0 + 1) is False  # still A's
    assert await store.release_lease("run:r1", "A") is True
    assert await store.release_lease("run:r1", "A") is False  # idempotent
    assert await store.acquire_lease("run:r1", "B", 30, now=T0 + 2) is True


async def test_a_lease_needs_a_name_an_owner_and_a_positive_length(store: DocumentStore) -> None:
    for name, owner, seconds in (("", "A", 30.0), ("run:r1", "", 30.0), ("run:r1", "A", 0.0)):
        with pytest.raises(ValueError):
            await store.acquire_lease(name, owner, seconds, now=T0)
    assert await store.acquire_lease("run:r1", "B", 30, now=T0) is True  # nothing was taken


@pytest.mark.contention
async def test_concurrent_acquirers_exactly_one_wins(
    store: DocumentStore, twin: DocumentStore
) -> None:
    async def race(name: str, at: float) -> list[str]:
        won = await asyncio.gather(
            *((store, twin)[n % 2].acquire_lease(name, f"owner{n}", 30, now=at) for n in range(12))
        )
        return [f"owner{n}" for n, ok in enumerate(won) if ok]

    # a free lease (no row yet) ...
    [winner] = await race("run:free", T0)
    for n in range(12):
        expected = f"owner{n}" == winner
        assert await store.acquire_lease("run:free", f"owner{n}", 30, now=T0 + 1) is expected
    # ... and an expired one (a crashed holder's row is there)
    assert await store.acquire_lease("run:expired", "crashed", 30, now=T0) is True
    [winner] = await race("run:expired", T0 + 30)
    assert await twin.acquire_lease("run:expired", "crashed", 30, now=T0 + 31) is False
    assert await twin.release_lease("run:expired", winner) is True
