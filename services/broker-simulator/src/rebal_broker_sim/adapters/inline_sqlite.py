"""The subset of aiosqlite's API the simulator's store uses, run inline on the event loop.

aiosqlite runs every statement on its own thread and hands the result back through the loop:
a thread switch and a wake-up per `execute` and per `fetch`, about ten per submitted order,
which made the simulator's store the largest share of its CPU (issue #18 profile). The
simulator's statements are local, indexed and small, and its database runs WAL with
synchronous=NORMAL (a commit does not wait for the disk), so each one takes microseconds:
running them inline costs the loop less than handing them to a thread. One connection and the
store's lock keep the units of work apart as before.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Generator, Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

Row = sqlite3.Row
Params = Iterable[Any]


class InlineCursor:
    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    async def fetchone(self) -> Row | None:
        row: Row | None = self._cursor.fetchone()
        return row

    async def fetchall(self) -> list[Row]:
        rows: list[Row] = self._cursor.fetchall()
        return rows

    async def close(self) -> None:
        self._cursor.close()


class _Executed:
    """What `execute` returns: awaited, the cursor; or used as `async with ... as cursor`."""

    def __init__(self, cursor: InlineCursor) -> None:
        self._cursor = cursor

    def __await__(self) -> Generator[Any, None, InlineCursor]:
        return self._result().__await__()

    async def _result(self) -> InlineCursor:
        return self._cursor

    async def __aenter__(self) -> InlineCursor:
        return self._cursor

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._cursor.close()


class InlineConnection:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self._db.row_factory = sqlite3.Row

    @property
    def in_transaction(self) -> bool:
        return self._db.in_transaction

    def execute(self, sql: str, parameters: Params = ()) -> _Executed:
        return _Executed(InlineCursor(self._db.execute(sql, tuple(parameters))))

    # Synchronous ends of a transaction for the store's group commit: nothing can interleave
    # between them and the state they leave (a cancelled task cannot stop them halfway).
    def commit_now(self) -> None:
        self._db.execute("COMMIT")

    def rollback_now(self) -> None:
        self._db.execute("ROLLBACK")

    def rollback_to_savepoint_now(self) -> None:
        self._db.execute("ROLLBACK TO unit_of_work")
        self._db.execute("RELEASE unit_of_work")

    async def executescript(self, script: str) -> None:
        self._db.executescript(script)

    async def close(self) -> None:
        self._db.close()


async def connect(path: str | Path) -> InlineConnection:
    """Autocommit mode (transactions are the store's explicit BEGIN/COMMIT), as aiosqlite was
    opened with isolation_level=None."""
    return InlineConnection(sqlite3.connect(path, isolation_level=None))
