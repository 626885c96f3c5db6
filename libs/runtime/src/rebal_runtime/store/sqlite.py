"""SQLite DocumentStore (the embedded default): one file per service, WAL, one writer at a time."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal, TypeVar

import orjson

from rebal_runtime.store.port import (
    Commit,
    ConcurrencyError,
    Document,
    DocumentStore,
    IndexValue,
    JsonDict,
    OutboxMessage,
    PendingMessage,
    QuarantinedMessage,
    StoreUnavailable,
    now_or_clock,
)

T = TypeVar("T")
_IN_CHUNK = 500  # ids per `IN (...)`: well under SQLite's bound-parameter limit

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    collection TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL,
    state BLOB NOT NULL, processed BLOB NOT NULL, PRIMARY KEY (collection, id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS doc_index (
    collection TEXT NOT NULL, field TEXT NOT NULL, id TEXT NOT NULL, value,
    PRIMARY KEY (collection, field, id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS doc_index_by_value ON doc_index (collection, field, value, id);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, collection TEXT NOT NULL, doc_id TEXT NOT NULL,
    event_id TEXT NOT NULL, topic TEXT NOT NULL, key BLOB NOT NULL, value BLOB NOT NULL,
    headers BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS outbox_by_event ON outbox (event_id);
CREATE TABLE IF NOT EXISTS outbox_lease (
    collection TEXT NOT NULL, doc_id TEXT NOT NULL, owner TEXT NOT NULL, until REAL NOT NULL,
    PRIMARY KEY (collection, doc_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS outbox_quarantine (
    seq INTEGER PRIMARY KEY, collection TEXT NOT NULL, doc_id TEXT NOT NULL,
    event_id TEXT NOT NULL, topic TEXT NOT NULL, key BLOB NOT NULL, value BLOB NOT NULL,
    headers BLOB NOT NULL, reason TEXT NOT NULL, quarantined_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS leases (
    name TEXT NOT NULL PRIMARY KEY, owner TEXT NOT NULL, until REAL NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS appended (
    collection TEXT NOT NULL, id TEXT NOT NULL, body BLOB NOT NULL,
    PRIMARY KEY (collection, id)) WITHOUT ROWID;
"""


class SqliteStore(DocumentStore):
    """The outbox is a table beside the documents, written in the commit's transaction; leases
    (`outbox_lease`, one row per claimed document) and the quarantine are tables too, so a claim
    never writes the `documents` table. Claims and settles are `BEGIN IMMEDIATE` transactions:
    SQLite's single writer lock makes them atomic against each other and against commits, across
    connections and processes sharing the file. Named leases (`leases`, one row per held name)
    are taken the same way: read, decide and write in one `BEGIN IMMEDIATE` transaction.

    Every operation is ONE synchronous call on the connection: a commit (read version, write
    document, index, outbox, COMMIT) runs as a whole, so operations never interleave and need no
    asyncio lock.

    `inline=True` (the default) makes that call on the event loop itself. Why: an operation on a
    local WAL file takes tens of microseconds (a batch of 500 commits, a few milliseconds),
    while a hop to a worker thread and back costs as much again plus a GIL handover that under
    load waits up to the interpreter's 5 ms switch interval, several times per message. That was
    most of the optimizer's latency. `inline=False` runs each call on one worker thread instead,
    for a store file another process may hold locked for long (the loop must not wait on the
    5 s busy timeout)."""

    def __init__(
        self, path: str | Path, processed_ids_kept: int = 1000, *, inline: bool = True
    ) -> None:
        super().__init__(processed_ids_kept)
        self.path = Path(path)
        self.inline = inline
        self._db: sqlite3.Connection | None = None
        self._executor: ThreadPoolExecutor | None = None

    @classmethod
    def from_url(
        cls, url: str, processed_ids_kept: int = 1000, *, inline: bool = True
    ) -> SqliteStore:
        return cls(url.removeprefix("sqlite:///"), processed_ids_kept, inline=inline)

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._executor is None or self._db is None:
            raise StoreUnavailable("store is not open")
        db = self._db
        try:
            if self.inline:
                return fn(db)
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn, db)
        except sqlite3.OperationalError as exc:  # locked, disk I/O: transient
            raise StoreUnavailable(str(exc)) from exc

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-store")

        def connect() -> sqlite3.Connection:
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode survives a process crash (SIGKILL); only an OS crash can lose the
            # last transactions, which the embedded stack accepts (its Kafka is memory-only anyway).
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA busy_timeout=5000")
            db.executescript(_SCHEMA)
            return db

        self._db = await asyncio.get_running_loop().run_in_executor(self._executor, connect)

    async def close(self) -> None:
        if self._db is not None and self._executor is not None:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._db.close)
            self._executor.shutdown(wait=True)
        self._db = None
        self._executor = None

    async def load(self, collection: str, doc_id: str) -> Document | None:
        def load(db: sqlite3.Connection) -> Document | None:
            row = db.execute(
                "SELECT version, state, processed FROM documents WHERE collection=? AND id=?",
                (collection, doc_id),
            ).fetchone()
            if row is None:
                return None
            return Document(
                collection, doc_id, row[0], orjson.loads(row[1]), tuple(orjson.loads(row[2]))
            )

        return await self._run(load)

    async def _commit(self, commit: Commit) -> int:
        def write(db: sqlite3.Connection) -> int:
            db.execute("BEGIN IMMEDIATE")
            try:
                version = self._write(db, commit)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            return version

        return await self._run(write)

    async def load_many(self, collection: str, ids: Sequence[str]) -> dict[str, Document]:
        wanted = list(dict.fromkeys(ids))

        def load(db: sqlite3.Connection) -> dict[str, Document]:
            found: dict[str, Document] = {}
            for start in range(0, len(wanted), _IN_CHUNK):
                chunk = wanted[start : start + _IN_CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = db.execute(
                    "SELECT id, version, state, processed FROM documents "
                    f"WHERE collection=? AND id IN ({marks})",
                    (collection, *chunk),
                ).fetchall()
                for doc_id, version, state, processed in rows:
                    found[doc_id] = Document(
                        collection,
                        doc_id,
                        version,
                        orjson.loads(state),
                        tuple(orjson.loads(processed)),
                    )
            return found

        return await self._run(load)

    async def _commit_many(self, commits: Sequence[Commit]) -> list[str]:
        def write(db: sqlite3.Connection) -> list[str]:
            conflicts: list[str] = []
            db.execute("BEGIN IMMEDIATE")
            try:
                for commit in commits:
                    try:
                        self._write(db, commit)  # checks the version before it writes anything
                    except ConcurrencyError:
                        conflicts.append(commit.id)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            return conflicts

        return await self._run(write)

    async def append_many(self, collection: str, entries: Sequence[tuple[str, JsonDict]]) -> int:
        rows = [(collection, doc_id, orjson.dumps(body)) for doc_id, body in entries]

        def insert(db: sqlite3.Connection) -> int:
            before = db.total_changes
            db.execute("BEGIN IMMEDIATE")
            db.executemany(
                "INSERT OR IGNORE INTO appended (collection, id, body) VALUES (?,?,?)", rows
            )
            db.execute("COMMIT")
            return db.total_changes - before

        return await self._run(insert) if rows else 0

    def _write(self, db: sqlite3.Connection, c: Commit) -> int:
        row = db.execute(
            "SELECT version, processed FROM documents WHERE collection=? AND id=?",
            (c.collection, c.id),
        ).fetchone()
        found = row[0] if row else 0
        if found != c.expected_version:
            raise ConcurrencyError(
                f"{c.collection}/{c.id}: expected v{c.expected_version}, found v{found}"
            )
        processed: list[str] = orjson.loads(row[1]) if row else []
        if c.processed_ids:
            processed = [*processed, *c.processed_ids][-self.processed_ids_kept :]
        state, seen = orjson.dumps(c.state), orjson.dumps(processed)
        if row:  # in place: REPLACE would delete the row and insert it again
            db.execute(
                "UPDATE documents SET version=?, state=?, processed=? WHERE collection=? AND id=?",
                (found + 1, state, seen, c.collection, c.id),
            )
        else:
            db.execute(
                "INSERT INTO documents (collection, id, version, state, processed) VALUES (?,?,?,?,?)",
                (c.collection, c.id, 1, state, seen),
            )
        removed = [(c.collection, f, c.id) for f, v in c.index.items() if v is None]
        if removed:
            db.executemany("DELETE FROM doc_index WHERE collection=? AND field=? AND id=?", removed)
        kept = [(c.collection, f, c.id, v) for f, v in c.index.items() if v is not None]
        if kept:
            # An upsert that leaves an unchanged value alone: most commits rewrite the same
            # index values, and REPLACE would delete and re-insert each row in both b-trees.
            db.executemany(
                "INSERT INTO doc_index (collection, field, id, value) VALUES (?,?,?,?) "
                "ON CONFLICT (collection, field, id) DO UPDATE SET value=excluded.value "
                "WHERE value IS NOT excluded.value",
                kept,
            )
        if c.outbox:
            db.executemany(
                "INSERT INTO outbox (collection, doc_id, event_id, topic, key, value, headers) VALUES (?,?,?,?,?,?,?)",
                [
                    (
                        c.collection,
                        c.id,
                        m.event_id,
                        m.topic,
                        m.key,
                        m.value,
                        _dump_headers(m.headers),
                    )
                    for m in c.outbox
                ],
            )
        return int(found + 1)

    async def query(
        self,
        collection: str,
        field: str,
        value: IndexValue,
        *,
        op: Literal["eq", "le"] = "eq",
        after_id: str | None = None,
        limit: int = 1000,
    ) -> list[str]:
        comparison = "=" if op == "eq" else "<="
        sql = f"SELECT id FROM doc_index WHERE collection=? AND field=? AND value {comparison} ?"
        args: list[Any] = [collection, field, value]
        if after_id is not None:
            sql += " AND id > ?"
            args.append(after_id)
        sql += " ORDER BY id LIMIT ?"
        args.append(limit)
        return await self._run(lambda db: [r[0] for r in db.execute(sql, args).fetchall()])

    async def scan(
        self, collection: str, *, after_id: str | None = None, limit: int = 1000
    ) -> list[str]:
        return await self._run(
            lambda db: [
                r[0]
                for r in db.execute(
                    "SELECT id FROM documents WHERE collection=? AND id > ? ORDER BY id LIMIT ?",
                    (collection, after_id or "", limit),
                ).fetchall()
            ]
        )

    async def append(self, collection: str, doc_id: str, body: JsonDict) -> bool:
        def insert(db: sqlite3.Connection) -> bool:
            cur = db.execute(
                "INSERT OR IGNORE INTO appended (collection, id, body) VALUES (?,?,?)",
                (collection, doc_id, orjson.dumps(body)),
            )
            return cur.rowcount == 1

        return await self._run(insert)

    async def get_appended(self, collection: str, doc_id: str) -> JsonDict | None:
        def get(db: sqlite3.Connection) -> JsonDict | None:
            row = db.execute(
                "SELECT body FROM appended WHERE collection=? AND id=?", (collection, doc_id)
            ).fetchone()
            return orjson.loads(row[0]) if row else None

        return await self._run(get)

    async def pending_outbox(self, limit: int = 500) -> list[PendingMessage]:
        def pending(db: sqlite3.Connection) -> list[PendingMessage]:
            rows = db.execute(
                "SELECT collection, doc_id, event_id, topic, key, value, headers, seq FROM outbox ORDER BY seq LIMIT ?",
                (limit,),
            ).fetchall()
            return [_pending(r) for r in rows]

        return await self._run(pending)

    async def claim_pending(
        self, owner: str, lease_seconds: float, limit: int = 500, *, now: float | None = None
    ) -> list[PendingMessage]:
        at = now_or_clock(now)

        def claim(db: sqlite3.Connection) -> list[PendingMessage]:
            db.execute("BEGIN IMMEDIATE")  # the write lock: no other claim or commit in between
            try:
                rows = db.execute(
                    "SELECT o.collection, o.doc_id, o.event_id, o.topic, o.key, o.value, o.headers,"
                    " o.seq FROM outbox o LEFT JOIN outbox_lease l"
                    " ON l.collection = o.collection AND l.doc_id = o.doc_id"
                    " WHERE l.owner IS NULL OR l.until <= ? OR l.owner = ?"
                    " ORDER BY o.seq LIMIT ?",
                    (at, owner, limit),
                ).fetchall()
                docs = dict.fromkeys((r[0], r[1]) for r in rows)
                db.executemany(
                    "INSERT OR REPLACE INTO outbox_lease (collection, doc_id, owner, until)"
                    " VALUES (?,?,?,?)",
                    [(c, d, owner, at + lease_seconds) for c, d in docs],
                )
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            return [_pending(r) for r in rows]

        return await self._run(claim)

    async def settle(
        self,
        published: Sequence[PendingMessage] = (),
        quarantined: Sequence[tuple[PendingMessage, str]] = (),
        *,
        owner: str | None = None,
        now: float | None = None,
    ) -> None:
        if not published and not quarantined:
            return
        at = now_or_clock(now)
        done = [*published, *(p for p, _ in quarantined)]
        rows = [_row_key(p) for p in done]
        moved = [(reason, at, *_row_key(p)) for p, reason in quarantined]
        docs = list(dict.fromkeys((p.collection, p.doc_id) for p in done))

        def settle(db: sqlite3.Connection) -> None:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany(
                    "INSERT OR IGNORE INTO outbox_quarantine (seq, collection, doc_id, event_id,"
                    " topic, key, value, headers, reason, quarantined_at)"
                    " SELECT seq, collection, doc_id, event_id, topic, key, value, headers, ?, ?"
                    " FROM outbox WHERE seq=?",
                    moved,
                )
                db.executemany("DELETE FROM outbox WHERE seq=?", rows)
                if owner is not None:
                    db.executemany(
                        "DELETE FROM outbox_lease WHERE collection=? AND doc_id=? AND owner=?",
                        [(c, d, owner) for c, d in docs],
                    )
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

        await self._run(settle)

    async def _acquire_lease(self, name: str, owner: str, at: float, until: float) -> bool:
        def held_by_another(db: sqlite3.Connection) -> bool:
            row = db.execute("SELECT owner, until FROM leases WHERE name=?", (name,)).fetchone()
            return row is not None and row[0] != owner and row[1] > at

        def acquire(db: sqlite3.Connection) -> bool:
            # A live lease of another owner is refused on a plain read, without the write lock
            # (the common case of a twin polling for work its sibling holds); a stale read can
            # only refuse, never grant: granting re-reads under the lock.
            if held_by_another(db):
                return False
            db.execute("BEGIN IMMEDIATE")  # the write lock: no other acquirer in between
            try:
                won = not held_by_another(db)
                if won:
                    db.execute(
                        "INSERT OR REPLACE INTO leases (name, owner, until) VALUES (?,?,?)",
                        (name, owner, until),
                    )
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            return won

        return await self._run(acquire)

    async def release_lease(self, name: str, owner: str) -> bool:
        def release(db: sqlite3.Connection) -> bool:
            cur = db.execute("DELETE FROM leases WHERE name=? AND owner=?", (name, owner))
            return cur.rowcount == 1

        return await self._run(release)

    async def quarantined_outbox(self, limit: int = 500) -> list[QuarantinedMessage]:
        def read(db: sqlite3.Connection) -> list[QuarantinedMessage]:
            rows = db.execute(
                "SELECT collection, doc_id, event_id, topic, key, value, headers, seq, reason,"
                " quarantined_at FROM outbox_quarantine ORDER BY seq LIMIT ?",
                (limit,),
            ).fetchall()
            found: list[QuarantinedMessage] = []
            for r in rows:
                p = _pending(r)
                found.append(QuarantinedMessage(p.collection, p.doc_id, p.message, r[8], r[9]))
            return found

        return await self._run(read)


def _row_key(p: PendingMessage) -> tuple[int]:
    return (int(p.row),)


def _pending(r: Sequence[Any]) -> PendingMessage:
    """A PendingMessage from (collection, doc_id, event_id, topic, key, value, headers, seq)."""
    message = OutboxMessage(r[2], r[3], bytes(r[4]), bytes(r[5]), _load_headers(r[6]))
    return PendingMessage(r[0], r[1], message, str(r[7]))


def _dump_headers(headers: tuple[tuple[str, bytes], ...]) -> bytes:
    return orjson.dumps([[k, v.decode("latin-1")] for k, v in headers])


def _load_headers(raw: bytes) -> tuple[tuple[str, bytes], ...]:
    return tuple((k, v.encode("latin-1")) for k, v in orjson.loads(raw))
