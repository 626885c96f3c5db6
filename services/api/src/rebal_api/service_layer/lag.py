"""The projection's lag, as this api process sees it: when it last applied a batch of events
and how old the newest event of that batch was then (`occurred_at` to applied)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import rebal_schemas as wire


@dataclass(frozen=True)
class LagSnapshot:
    applied_at: datetime | None
    """When the last batch was applied; None: none yet since the process started."""
    newest_event_at: datetime | None
    lag_seconds: float | None
    """How old the batch's newest event was when applied."""
    events: int
    """Events applied since the process started."""


class ProjectionLag:
    def __init__(self) -> None:
        self._snapshot = LagSnapshot(None, None, None, 0)

    def observed(self, events: Sequence[wire.Event], applied_at: datetime) -> None:
        if not events:
            return
        newest = max(e.occurred_at for e in events)
        lag = max((applied_at - newest).total_seconds(), 0.0)
        count = self._snapshot.events + len(events)
        self._snapshot = LagSnapshot(applied_at, newest, lag, count)

    def snapshot(self) -> LagSnapshot:
        return self._snapshot
