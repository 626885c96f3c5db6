"""The simulator's SQLite store: one connection, one writer at a time, explicit transactions."""

from __future__ import annotations

import asyncio
from pathlib import Path

from rebal_broker_sim.adapters import inline_sqlite
from rebal_broker_sim.adapters.inline_sqlite import InlineConnection
from rebal_broker_sim.adapters.sqlite_ledger import SqliteAccountLedger, SqlitePriceTable
from rebal_broker_sim.adapters.sqlite_repositories import (
    SqliteOrderRepository,
    SqliteRequestLog,
    SqliteTradeEventLog,
)
from rebal_broker_sim.adapters.sqlite_schema import SCHEMA
from rebal_broker_sim.service_layer.ports import UnitOfWork


class SqliteStore:
    """Group commit: a finished unit of work's COMMIT waits for the event loop's next pass, and
    the units that start before it join its transaction (each inside a savepoint, so a failing
    one undoes only itself); one COMMIT ends them all. A COMMIT writes every page the transaction touched to the WAL, the same hot pages for
    each order (the newest leaf of each table and index): it was a third of the store's CPU
    per order, and under load it is now shared. A unit still returns from `commit` (and, when
    it did not commit, from its `async with`) only once that COMMIT is done, so an answer, a
    stream frame or a notification never rests on a write that could still be lost.
    """

    def __init__(self, path: str | Path) -> None:
        self._path = str(path)
        self._db: InlineConnection | None = None
        # Every unit of work, reads included, holds this lock: a reader on the one shared
        # connection would otherwise see another task's uncommitted writes.
        self.lock = asyncio.Lock()
        self.group: list[asyncio.Future[None]] | None = None
        """The open transaction's finished units, waiting for its COMMIT (None: none open)."""
        self._flush: asyncio.Handle | None = None

    async def open(self) -> None:
        if self._path != ":memory:":
            Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        db = await inline_sqlite.connect(self._path)
        await db.execute("PRAGMA journal_mode=WAL")
        # A process crash after COMMIT keeps the write: WAL with synchronous=NORMAL only risks
        # the last transactions on power loss, which a simulator does not need to survive.
        await db.execute("PRAGMA synchronous=NORMAL")
        # A unit that joins an open transaction runs in a savepoint, whose undo journal is
        # then kept in memory rather than in a temporary file.
        await db.execute("PRAGMA temp_store=MEMORY")
        await db.executescript(SCHEMA)
        self._db = db

    async def close(self) -> None:
        if self._flush is not None:
            self._flush.cancel()
            self._flush_soon()
        if self._db is not None:
            await self._db.close()
            self._db = None

    @property
    def connection(self) -> InlineConnection:
        if self._db is None:
            raise RuntimeError("the SQLite store is not open")
        return self._db

    def unit_of_work(self) -> SqliteUnitOfWork:
        return SqliteUnitOfWork(self)

    def finish(self) -> asyncio.Future[None]:
        """A unit is done (the lock is held); its future resolves once the COMMIT covering
        it has run (or fails with that COMMIT's error)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        assert self.group is not None
        self.group.append(done)
        if self._flush is None:
            # Not at once: a unit runs without yielding (its statements are inline), so other
            # requests never queue behind it. The COMMIT waits for the loop's next pass: the
            # requests already read by then join this transaction.
            self._flush = asyncio.get_running_loop().call_soon(self._flush_soon)
        return done

    def _flush_soon(self) -> None:
        self._flush = None
        if self.group is None:
            return
        if self.lock.locked():
            # A unit inside the transaction awaits something real: its end (`finish`, whether
            # it commits or rolls back its savepoint) schedules the COMMIT again.
            return
        self._commit_group()

    def _commit_group(self) -> None:
        group, self.group = self.group or [], None
        db = self.connection
        try:
            db.commit_now()
        except BaseException as exc:
            try:
                if db.in_transaction:
                    db.rollback_now()
            finally:
                for done in group:
                    if not done.done():
                        done.set_exception(exc)
            return
        for done in group:
            if not done.done():
                done.set_result(None)


class SqliteUnitOfWork(UnitOfWork):
    def __init__(self, store: SqliteStore) -> None:
        self._store = store
        db = store.connection
        self.orders = SqliteOrderRepository(db)
        self.trade_events = SqliteTradeEventLog(db)
        self.requests = SqliteRequestLog(db)
        self.prices = SqlitePriceTable(db)
        self.accounts = SqliteAccountLedger(db)
        self._in_transaction = False
        self._savepoint = False
        self._released = False

    async def _begin(self) -> None:
        store = self._store
        await store.lock.acquire()
        try:
            db = store.connection
            if store.group is None:
                if db.in_transaction:
                    # A previous unit of work was cancelled while rolling back: finish that.
                    await db.execute("ROLLBACK")
                await db.execute("BEGIN IMMEDIATE")
                store.group = []
            else:
                # Joining an open transaction: a failure must undo this unit only.
                await db.execute("SAVEPOINT unit_of_work")
                self._savepoint = True
        except BaseException:
            store.lock.release()
            raise
        self._in_transaction = True

    async def commit(self) -> None:
        """Returns once the COMMIT covering this unit has run; the unit is then closed."""
        if self._savepoint:
            await self._store.connection.execute("RELEASE unit_of_work")
        self._in_transaction = False
        await self._finish()

    async def _finish(self) -> None:
        done = self._store.finish()
        self._released = True
        self._store.lock.release()
        # A cancelled waiter cancels only its future: the COMMIT still runs for the others.
        await done

    async def _rollback_and_release(self) -> None:
        if self._released:
            return
        if not self._in_transaction:
            self._released = True
            self._store.lock.release()
            return
        self._in_transaction = False
        db = self._store.connection
        if self._savepoint:
            # Only this unit's writes go; what it read may be the group's uncommitted writes,
            # so it too returns only after the group's COMMIT.
            db.rollback_to_savepoint_now()
            await self._finish()
            return
        # The first unit of a transaction: nobody has joined it yet (they wait for the lock).
        try:
            if self._store.group is not None:
                self._store.group = None
                db.rollback_now()
        finally:
            self._released = True
            self._store.lock.release()
