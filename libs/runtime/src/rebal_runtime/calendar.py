"""The trading calendar of every service: which days the market trades (sessions), when each
session opens and closes, and the market time zone its dates and times of day are read in.

`trading_calendar(code, timezone)` gives the calendar the settings name (`REBAL_TRADING_CALENDAR`,
`REBAL_MARKET_TIMEZONE`); an exchange's data is read once per process and code:

- an exchange_calendars code (`XNYS`, the New York Stock Exchange, ...): `ExchangeCalendar`, the
  exchange's sessions with their opens and closes (early closes included), loaded on first use;
- `ALWAYS_OPEN`: every day is a session from 00:00 to 24:00 **in the market time zone**
  (America/New_York unless `REBAL_MARKET_TIMEZONE` says otherwise), so a demo runs on any day at
  any hour. A demo/test calendar: `REBAL_PROFILE=prod` refuses it.

`weekday_calendar(holidays, early_closes)` is the exchange without data files: Monday..Friday
09:30-16:00 minus holidays, for tests.

Days are the market's dates (`datetime.date`), instants aware UTC `datetime`s. Every method takes
any day, a session or not. A day outside the data of an exchange calendar raises
`CalendarOutOfRangeError` (a `LookupError`) rather than being guessed. Each service's domain
declares the few methods it uses as its own Protocol, which this class satisfies structurally.
"""

from __future__ import annotations

import bisect
import warnings
from abc import ABC, abstractmethod
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

ALWAYS_OPEN = "ALWAYS_OPEN"  # the demo/test calendar: every day a 24-hour session
NEW_YORK = ZoneInfo("America/New_York")  # the default market time zone (XNYS's)

_DAY = timedelta(days=1)


class CalendarOutOfRangeError(LookupError):
    """Asked about a day the calendar has no data for (never guessed: a wrong answer would
    silently move or drop rebalances, or settle trades on the wrong day)."""


class TradingCalendar(ABC):
    """Sessions of one market, read in its time zone."""

    code: str

    @property
    @abstractmethod
    def timezone(self) -> tzinfo:
        """The market time zone: the date of an instant and every time of day are read in it."""

    @abstractmethod
    def is_session(self, day: date) -> bool:
        """True when the market trades on `day`."""

    @abstractmethod
    def session_open_close(self, day: date) -> tuple[datetime, datetime]:
        """Open and close of session `day`, aware UTC (early closes included). Raises
        `ValueError` when `day` is not a session."""

    @abstractmethod
    def previous_session(self, day: date) -> date:
        """The latest session strictly before `day`, so rolling back is
        `day if is_session(day) else previous_session(day)`."""

    @abstractmethod
    def add_sessions(self, day: date, count: int) -> date:
        """The `count`-th session strictly after `day` (`count` >= 1): T+`count`."""

    @abstractmethod
    def sessions_in_range(self, start: date, end: date) -> Sequence[date]:
        """Sessions `start <= s <= end` (both ends inclusive), ascending."""

    def next_session(self, day: date) -> date:
        """The first session strictly after `day`."""
        return self.add_sessions(day, 1)

    def session_close(self, day: date) -> datetime:
        """The close of session `day`, aware UTC; `ValueError` when `day` is not a session."""
        return self.session_open_close(day)[1]

    def today(self, now: datetime) -> date:
        """The market's date at the aware instant `now`."""
        return now.astimezone(self.timezone).date()

    def load(self) -> TradingCalendar:
        """Read the data now: an unknown code fails here, not at the first query."""
        return self


def _check_count(count: int) -> None:
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")


class RuleCalendar(TradingCalendar):
    """Sessions by rule, unbounded: the given weekdays (0 = Monday) minus `holidays`, each open
    from `opens` to `closes` (time since local midnight; 24 h is the next midnight), except the
    `early_closes` (session -> local close time)."""

    def __init__(
        self,
        code: str,
        timezone: tzinfo,
        *,
        weekdays: Collection[int],
        opens: timedelta,
        closes: timedelta,
        holidays: Collection[date] = (),
        early_closes: Mapping[date, time] | None = None,
    ) -> None:
        if not weekdays:
            raise ValueError("a calendar needs at least one weekday with sessions")
        self.code = code
        self._timezone = timezone
        self._weekdays = frozenset(weekdays)
        self._hours = (opens, closes)
        self._holidays = frozenset(holidays)
        self._early_closes = dict(early_closes or {})

    @property
    def timezone(self) -> tzinfo:
        return self._timezone

    def is_session(self, day: date) -> bool:
        return day.weekday() in self._weekdays and day not in self._holidays

    def session_open_close(self, day: date) -> tuple[datetime, datetime]:
        if not self.is_session(day):
            raise ValueError(f"{day} is not a session")
        midnight = datetime.combine(day, time(0), tzinfo=self._timezone)
        opens, closes = self._hours
        early = self._early_closes.get(day)
        close = datetime.combine(day, early, tzinfo=self._timezone) if early else midnight + closes
        return (midnight + opens).astimezone(UTC), close.astimezone(UTC)

    def _step(self, day: date, step: timedelta) -> date:
        for _ in range(366):
            day += step
            if self.is_session(day):
                return day
        raise CalendarOutOfRangeError(f"no session in the year from {day - 366 * step}")

    def previous_session(self, day: date) -> date:
        return self._step(day, -_DAY)

    def add_sessions(self, day: date, count: int) -> date:
        _check_count(count)
        for _ in range(count):
            day = self._step(day, _DAY)
        return day

    def sessions_in_range(self, start: date, end: date) -> Sequence[date]:
        days = (start + n * _DAY for n in range((end - start).days + 1))
        return tuple(day for day in days if self.is_session(day))


def always_open(timezone: tzinfo = NEW_YORK) -> RuleCalendar:
    """`ALWAYS_OPEN`: every day is a session from 00:00 to 24:00 in `timezone`. Never for real
    money: demos and tests only."""
    return RuleCalendar(
        ALWAYS_OPEN, timezone, weekdays=range(7), opens=timedelta(0), closes=timedelta(hours=24)
    )


def weekday_calendar(
    holidays: Collection[date] = (),
    early_closes: Mapping[date, time] | None = None,
    timezone: tzinfo = NEW_YORK,
) -> RuleCalendar:
    """Monday to Friday 09:30-16:00 minus `holidays` (an exchange without data files, for tests)."""
    return RuleCalendar(
        "WEEKDAYS",
        timezone,
        weekdays=range(5),
        opens=timedelta(hours=9, minutes=30),
        closes=timedelta(hours=16),
        holidays=holidays,
        early_closes=early_closes,
    )


@dataclass(frozen=True)
class _Sessions:
    days: tuple[date, ...]
    hours: Mapping[date, tuple[datetime, datetime]]
    first: date
    last: date
    timezone: tzinfo


@lru_cache(maxsize=16)
def _exchange_sessions(code: str, start: date | None, end: date) -> _Sessions:
    import exchange_calendars as xcals

    with warnings.catch_warnings():
        # exchange_calendars reads Series.values, deprecated by recent pandas: not ours to fix.
        warnings.simplefilter("ignore")
        exchange = xcals.get_calendar(code, start=start, end=end)
        days = tuple(session.date() for session in exchange.sessions)
        hours = {
            day: (opens.to_pydatetime().astimezone(UTC), closes.to_pydatetime().astimezone(UTC))
            for day, opens, closes in zip(days, exchange.opens, exchange.closes, strict=True)
        }
    return _Sessions(days, hours, start or days[0], end, ZoneInfo(str(exchange.tz)))


class ExchangeCalendar(TradingCalendar):
    """An exchange_calendars calendar (default `XNYS`), read on first use (about a second, so
    building a service stays instant) and shared by every calendar of the same code and range.

    `timezone` is the market time zone its dates and times of day are read in (default: the
    exchange's own); sessions, opens and closes stay the exchange's. `start`/`end` bound the
    data: by default the library's start (about 20 years back) to three years after today, far
    enough for annual rules that roll back across a year end.
    """

    def __init__(
        self,
        code: str = "XNYS",
        timezone: tzinfo | None = None,
        *,
        start: date | None = None,
        end: date | None = None,
    ) -> None:
        self.code = code
        self._zone = timezone
        self._range = (start, end)
        self._sessions: _Sessions | None = None

    @property
    def loaded(self) -> bool:
        """Whether the data was read (`load()` or a first query)."""
        return self._sessions is not None

    def load(self) -> ExchangeCalendar:
        self._data()
        return self

    def _data(self) -> _Sessions:
        if self._sessions is None:
            start, end = self._range
            end = end or datetime.now(UTC).date() + timedelta(days=3 * 366)
            self._sessions = _exchange_sessions(self.code, start, end)
        return self._sessions

    @property
    def timezone(self) -> tzinfo:
        return self._zone if self._zone is not None else self._data().timezone

    def _check(self, day: date) -> _Sessions:
        data = self._data()
        if not data.first <= day <= data.last:
            raise CalendarOutOfRangeError(
                f"{day} is outside the {self.code} calendar's range {data.first}..{data.last}"
            )
        return data

    def is_session(self, day: date) -> bool:
        return day in self._check(day).hours

    def session_open_close(self, day: date) -> tuple[datetime, datetime]:
        try:
            return self._check(day).hours[day]
        except KeyError:
            raise ValueError(f"{day} is not a session") from None

    def previous_session(self, day: date) -> date:
        # The day before `day` must be known: beyond the range we cannot tell whether an
        # unknown day in between is a session.
        days = self._check(day - _DAY).days
        index = bisect.bisect_left(days, day)
        if index == 0:
            raise CalendarOutOfRangeError(f"no {self.code} session before {day} in its data")
        return days[index - 1]

    def add_sessions(self, day: date, count: int) -> date:
        _check_count(count)
        data = self._check(day)
        index = bisect.bisect_right(data.days, day) + count - 1
        if index >= len(data.days):
            raise CalendarOutOfRangeError(f"{count} sessions after {day} is past {data.last}")
        return data.days[index]

    def sessions_in_range(self, start: date, end: date) -> Sequence[date]:
        days = self._check(start).days
        self._check(end)
        return days[bisect.bisect_left(days, start) : bisect.bisect_right(days, end)]


def trading_calendar(code: str = "XNYS", timezone: tzinfo | None = None) -> TradingCalendar:
    """The calendar `code` names: `ALWAYS_OPEN` (read in `timezone`, default New York) or an
    exchange_calendars code (read in `timezone`, default the exchange's own zone), whose data is
    read on first use and once per process for each code."""
    if code.upper() == ALWAYS_OPEN:
        return always_open(timezone or NEW_YORK)
    return ExchangeCalendar(code, timezone)
