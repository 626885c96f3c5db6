"""`ShiftedClock`: the system clock moved to another start (the dev-only `clock_start_at`).

It reads `start` when built and runs on in real time from there, so a process can live at
02:00 New York (and see runs queue for the window) at any hour. Sleeps are real.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime


class ShiftedClock:
    def __init__(self, start: datetime) -> None:
        if start.utcoffset() is None:
            raise ValueError(f"the clock start must be timezone-aware, got {start!r}")
        self._offset = start - datetime.now(UTC)

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
