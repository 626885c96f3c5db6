"""The dead letters the api has read (pure): the newest few hundred, for the dashboard's count
of the last hour and its list of what was refused and why."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

KEPT = 500
"""Letters kept: well above an hour's worth on a healthy platform, small enough for one document."""
REASON_SHOWN = 300


@dataclass(frozen=True)
class DeadLetterEntry:
    event_id: str
    failed_at: datetime
    topic: str
    consumer_group: str
    error_type: str
    reason: str


@dataclass(frozen=True)
class DeadLetterLog:
    entries: tuple[DeadLetterEntry, ...] = ()

    def since(self, start: datetime) -> list[DeadLetterEntry]:
        """The letters that failed at or after `start`, newest first."""
        found = [e for e in self.entries if e.failed_at >= start]
        return sorted(found, key=lambda e: e.failed_at, reverse=True)

    def last_hour(self, now: datetime) -> list[DeadLetterEntry]:
        return self.since(now - timedelta(hours=1))


def letter_recorded(current: DeadLetterLog | None, entry: DeadLetterEntry) -> DeadLetterLog:
    """`current` with `entry`, the oldest dropped past `KEPT` (a redelivery is the repository's:
    its inbox drops it)."""
    log = current or DeadLetterLog()
    shown = replace(entry, reason=entry.reason[:REASON_SHOWN])
    entries = sorted((*log.entries, shown), key=lambda e: e.failed_at)[-KEPT:]
    return DeadLetterLog(tuple(entries))
