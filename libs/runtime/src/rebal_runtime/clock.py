"""The clock port: what time it is and how to wait for the next tick.

The domain never reads a clock; the service layer is handed ``now``; the clock-driven
entry points ask a :class:`Clock` and their periodic tasks (`rebal_runtime.periodic`) sleep
on it. Tests drive a :class:`FakeClock`. This is the one clock port of every service.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """An aware UTC datetime."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait until the next tick is due."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class FakeClock:
    """A settable clock. ``sleep`` returns as soon as the time is moved (or after
    ``seconds`` of real time), so a loop on it reacts to every :meth:`advance`."""

    def __init__(self, start: datetime) -> None:
        self._now = _utc(start)
        self._moved: asyncio.Event | None = None

    def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        """Move to ``moment``; backwards too (a skewed or corrected clock)."""
        self._now = _utc(moment)
        moved, self._moved = self._moved, None
        if moved is not None:
            moved.set()

    def advance(self, delta: timedelta) -> datetime:
        self.set(self._now + delta)
        return self._now

    def sleep(self, seconds: float) -> Coroutine[Any, Any, None]:
        """Wait for the next move of the time. The move to wait for is fixed when `sleep` is
        called, not when the coroutine first runs: a loop that read the time, ticked and asked
        to sleep wakes for a move made in between (it would otherwise sleep past it)."""
        if self._moved is None:
            self._moved = asyncio.Event()
        return self._wait(self._moved, seconds)

    @staticmethod
    async def _wait(moved: asyncio.Event, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(moved.wait(), seconds)


def _utc(moment: datetime) -> datetime:
    if moment.utcoffset() is None:
        raise ValueError(f"the clock keeps timezone-aware datetimes, got {moment!r}")
    return moment.astimezone(UTC)
