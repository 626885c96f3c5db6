"""The execution window: when PLATFORM orders may leave for the broker (docs/design.md §3
"Execution window").

Alpaca's window is 09:30-15:30 New York on the trading sessions of the calendar. The times of day
are read in the calendar's time zone and clipped to the session itself (an early close at 13:00
ends the window at 13:00); a day that is not a session has no window. Inside means
`opens <= now < closes`. A window without a calendar is always open: the `ALWAYS_OPEN` calendar
of demos and tests, whatever the configured times of day.

The calendar is passed in (the runtime's `rebal_runtime.calendar`, which satisfies
`SessionCalendar`); a day outside its data raises its `LookupError` rather than a guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, tzinfo
from typing import Protocol

from rebal_order_router.domain.values import require_aware

ALPACA_OPENS = time(9, 30)
ALPACA_CLOSES = time(15, 30)
_DAYS_SEARCHED = 400  # more than a year of sessions: a calendar with none has no next opening


class SessionCalendar(Protocol):
    """What the window asks of a trading calendar."""

    @property
    def timezone(self) -> tzinfo: ...

    def is_session(self, day: date) -> bool: ...

    def session_open_close(self, day: date) -> tuple[datetime, datetime]:
        """Aware UTC open and close of session `day` (early closes included)."""
        ...

    def next_session(self, day: date) -> date:
        """The first session strictly after `day`."""
        ...


@dataclass(frozen=True)
class ExecutionWindow:
    calendar: SessionCalendar | None = None  # None: always open (ALWAYS_OPEN)
    opens: time = ALPACA_OPENS
    closes: time = ALPACA_CLOSES

    def __post_init__(self) -> None:
        if not self.opens < self.closes:
            raise ValueError(f"the window must open before it closes: {self.opens}-{self.closes}")

    @property
    def always_open(self) -> bool:
        return self.calendar is None

    def hours(self, day: date) -> tuple[datetime, datetime] | None:
        """The window of `day` as aware UTC instants; None when there is none that day (not a
        session, or the session closes before the window opens)."""
        calendar = self.calendar
        if calendar is None:
            raise ValueError("an always-open window has no hours")
        if not calendar.is_session(day):
            return None
        session_opens, session_closes = calendar.session_open_close(day)
        zone = calendar.timezone
        start = max(datetime.combine(day, self.opens, tzinfo=zone).astimezone(UTC), session_opens)
        end = min(datetime.combine(day, self.closes, tzinfo=zone).astimezone(UTC), session_closes)
        return (start, end) if start < end else None

    def is_open(self, now: datetime) -> bool:
        if self.calendar is None:
            return True
        require_aware(now, "window time")
        hours = self.hours(now.astimezone(self.calendar.timezone).date())
        return hours is not None and hours[0] <= now < hours[1]

    def open_since(self, since: datetime, now: datetime) -> bool:
        """Open now, and without a close since `since`: the window open now had opened by then.
        False once a close came in between, even if a later window is open now."""
        if self.calendar is None:
            return True
        require_aware(since, "window time")
        if not self.is_open(now):
            return False
        hours = self.hours(now.astimezone(self.calendar.timezone).date())
        assert hours is not None  # it is open
        return hours[0] <= since

    def next_opening(self, now: datetime) -> datetime:
        """`now` when the window is open, else the instant it next opens (aware UTC)."""
        if self.is_open(now):
            return now.astimezone(UTC)
        calendar = self.calendar
        assert calendar is not None  # an always-open window is open
        day = now.astimezone(calendar.timezone).date()
        hours = self.hours(day)
        if hours is not None and now < hours[0]:
            return hours[0]
        for _ in range(_DAYS_SEARCHED):
            day = calendar.next_session(day)
            hours = self.hours(day)
            if hours is not None:
                return hours[0]
        raise LookupError(f"no execution window within {_DAYS_SEARCHED} sessions after {now}")
