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
    def __init__(self, path: str | Path) -> None:
        self._path = str(path)
        self._db: InlineConnection | None = None
        # Every unit of work, reads included, holds this lock: a reader on the one shared
        # connection would otherwise see another task's uncommitted writes.
        self.lock = asyncio.Lock()

    async def open(self) -> None:
        if self._path != ":memory:":
            Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        db = await inline_sqlite.connect(self._path)
        await db.execute("PRAGMA journal_mode=WAL")
        # A process crash after COMMIT keeps the write: WAL with synchronous=NORMAL only risks
        # the last transactions on power loss, which a simulator does not need to survive.
        await db.execute("PRAGMA synchronous=NORMAL")
        await db.executescript(SCHEMA)
        self._db = db

    async def close(self) -> None:
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

    async def _begin(self) -> None:
        await self._store.lock.acquire()
        try:
            db = self._store.connection
            if db.in_transaction:
                # A previous unit of work was cancelled while rolling back: finish that first.
                await db.execute("ROLLBACK")
            await db.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._store.lock.release()
            raise
        self._in_transaction = True

    async def commit(self) -> None:
        await self._store.connection.execute("COMMIT")
        self._in_transaction = False

    async def _rollback_and_release(self) -> None:
        try:
            if self._in_transaction:
                self._in_transaction = False
                # Shielded: a cancelled caller (a closed event stream) must not leave the
                # shared connection inside an open transaction.
                await asyncio.shield(self._store.connection.execute("ROLLBACK"))
        finally:
            self._store.lock.release()
