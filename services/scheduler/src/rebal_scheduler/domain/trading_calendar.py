"""The trading calendar as the scheduler's pure domain computes against it: a port.

The domain never builds a calendar (that would be I/O or a dependency on exchange_calendars):
callers pass one in. The bootstrap passes the runtime's (`rebal_runtime.calendar`), which
satisfies this protocol; a day outside its data raises a ``LookupError`` rather than a guess.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, tzinfo
from typing import Protocol


class TradingCalendar(Protocol):
    """Trading days of one exchange.

    ``previous_session(d)`` is the latest session strictly before ``d``; ``d``
    itself need not be a session (unlike exchange_calendars, which only accepts
    sessions), so "roll back" is ``d if is_session(d) else previous_session(d)``.
    """

    @property
    def timezone(self) -> tzinfo:
        """The market time zone; every configured time of day is read in it."""
        ...

    def is_session(self, day: date) -> bool: ...

    def previous_session(self, day: date) -> date: ...

    def sessions_in_range(self, start: date, end: date) -> Sequence[date]:
        """Sessions ``start <= s <= end`` (both ends inclusive), ascending."""
        ...

    def session_close(self, day: date) -> datetime:
        """The close of session ``day`` as an aware UTC datetime (early closes
        included). Raises ``ValueError`` when ``day`` is not a session."""
        ...


def session_on_or_before(calendar: TradingCalendar, day: date) -> date:
    """Roll ``day`` back to the nearest trading day (itself when it is one)."""
    return day if calendar.is_session(day) else calendar.previous_session(day)
