"""ONE contract suite, run against every DocumentStore adapter.

In-memory fake, SQLite, MongoDB through mongomock-motor (no server here), MongoDB over the real
wire protocol on FerretDB (built by `make ferretdb`, marker `mongo_wire`), and a real MongoDB
through testcontainers when a Docker engine is reachable (skipped with the reason otherwise).
FerretDB's conditional updates are not atomic (FerretDB#3040), so the `contention` cases are
skipped there with that reason and run on every other store.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from rebal_runtime.store import (
    Commit,
    ConcurrencyError,
    DocumentStore,
    InMemoryStore,
    OutboxMessage,
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


@pytest.fixture(params=ADAPTERS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[DocumentStore]:
    kind = request.param
    s: DocumentStore
    container = None
    drop_database: str | None = None
    if kind == "memory":
        s = InMemoryStore(processed_ids_kept=3)
    elif kind == "sqlite":
        s = SqliteStore(tmp_path / "store.sqlite", processed_ids_kept=3)
    elif kind == "sqlite-thread":
        s = SqliteStore(tmp_path / "store.sqlite", processed_ids_kept=3, inline=False)
    elif kind == "mongomock":
        from mongomock_motor import AsyncMongoMockClient

        s = MongoStore(AsyncMongoMockClient(), "contract", processed_ids_kept=3)
    elif kind == "ferretdb":
        if request.node.get_closest_marker("contention"):
            pytest.skip(NOT_ATOMIC_REASON)
        server: FerretDB = request.getfixturevalue("ferretdb")
        drop_database = f"contract_{uuid.uuid4().hex[:12]}"  # one empty database per test
        s = MongoStore.from_url(server.url, drop_database, processed_ids_kept=3)
    else:
        reason = docker_unavailable_reason()
        if reason:
            pytest.skip(f"real MongoDB needs testcontainers and Docker: {reason}")
        from testcontainers.mongodb import MongoDbContainer

        container = MongoDbContainer("mongo:7")
        container.start()
        s = MongoStore.from_url(container.get_connection_url(), "contract", processed_ids_kept=3)
    await s.open()
    yield s
    if drop_database is not None:
        assert isinstance(s, MongoStore)
        await s.client.drop_database(drop_database)
    await s.close()
    if container is not None:
        container.stop()


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
