"""TradingCalendar adapters: exchange_calendars (production) and an in-memory
weekdays-minus-holidays calendar (unit tests, no data files)."""

from __future__ import annotations

import bisect
import warnings
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

import exchange_calendars as xcals

from rebal_scheduler.domain.trading_calendar import CalendarOutOfRangeError

NEW_YORK = ZoneInfo("America/New_York")


class _SortedSessions:
    """Session queries over a sorted tuple of dates within known bounds."""

    def __init__(self, sessions: Sequence[date], first_day: date, last_day: date) -> None:
        self._sessions = tuple(sessions)
        self._session_set = frozenset(self._sessions)
        self._first_day = first_day
        self._last_day = last_day

    def _check(self, day: date) -> None:
        if not self._first_day <= day <= self._last_day:
            raise CalendarOutOfRangeError(
                f"{day} is outside the calendar's range {self._first_day}..{self._last_day}"
            )

    def is_session(self, day: date) -> bool:
        self._check(day)
        return day in self._session_set

    def previous_session(self, day: date) -> date:
        # The day before `day` must be known: beyond the range we cannot tell
        # whether an unknown day in between is a session.
        self._check(day - timedelta(days=1))
        index = bisect.bisect_left(self._sessions, day)
        if index == 0:
            raise CalendarOutOfRangeError(f"no session before {day} within the calendar's range")
        return self._sessions[index - 1]

    def sessions_in_range(self, start: date, end: date) -> Sequence[date]:
        self._check(start)
        self._check(end)
        low = bisect.bisect_left(self._sessions, start)
        high = bisect.bisect_right(self._sessions, end)
        return self._sessions[low:high]


class ExchangeTradingCalendar(_SortedSessions):
    """An exchange_calendars calendar (default ``XNYS``) with sessions and closes
    cached as plain dates and UTC datetimes, so queries are set/bisect lookups.

    ``start``/``end`` bound the data; a query outside raises
    :class:`CalendarOutOfRangeError` rather than guessing. Defaults: the
    library's default start (about 20 years back) and ``end`` three years after
    today, far enough for annual rules that roll back across a year end.
    """

    def __init__(self, code: str = "XNYS", start: date | None = None, end: date | None = None):
        if end is None:
            end = datetime.now(UTC).date() + timedelta(days=3 * 366)
        with warnings.catch_warnings():
            # exchange_calendars 4.13 reads Series.values, deprecated by pandas 3.1;
            # harmless for us and not ours to fix.
            warnings.filterwarnings("ignore", message="Series.values returning an ndarray")
            exchange = xcals.get_calendar(code, start=start, end=end)
        sessions = tuple(ts.date() for ts in exchange.sessions)
        self._closes: dict[date, datetime] = {
            session.date(): close.to_pydatetime().astimezone(UTC)
            for session, close in exchange.closes.items()
        }
        self._timezone: tzinfo = ZoneInfo(str(exchange.tz))
        super().__init__(sessions, start or sessions[0], end)

    @property
    def timezone(self) -> tzinfo:
        return self._timezone

    def session_close(self, day: date) -> datetime:
        try:
            return self._closes[day]
        except KeyError:
            raise ValueError(f"{day} is not a session") from None


class InMemoryTradingCalendar:
    """Monday to Friday minus ``holidays``; closes at ``regular_close`` local time
    except ``early_closes`` (session -> local close). Unbounded."""

    def __init__(
        self,
        holidays: Collection[date] = (),
        early_closes: Mapping[date, time] | None = None,
        timezone: tzinfo = NEW_YORK,
        regular_close: time = time(16, 0),
    ) -> None:
        self._holidays = frozenset(holidays)
        self._early_closes = dict(early_closes or {})
        self._timezone = timezone
        self._regular_close = regular_close

    @property
    def timezone(self) -> tzinfo:
        return self._timezone

    def is_session(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self._holidays

    def previous_session(self, day: date) -> date:
        for back in range(1, 367):
            candidate = day - timedelta(days=back)
            if self.is_session(candidate):
                return candidate
        raise CalendarOutOfRangeError(f"no session in the year before {day}")

    def sessions_in_range(self, start: date, end: date) -> Sequence[date]:
        days = (start + timedelta(days=n) for n in range((end - start).days + 1))
        return tuple(day for day in days if self.is_session(day))

    def session_close(self, day: date) -> datetime:
        if not self.is_session(day):
            raise ValueError(f"{day} is not a session")
        local_close = self._early_closes.get(day, self._regular_close)
        return datetime.combine(day, local_close, tzinfo=self._timezone).astimezone(UTC)
