"""Alpaca calendar rebalance conditions and the dates they fall on.

A model has at most one condition ``{"type": "calendar", "sub_type": ..., "day": ...}``,
as Alpaca defines it:

- ``weekly``: ``day`` is ``Monday`` .. ``Friday``;
- ``monthly`` / ``quarterly``: ``day`` is 1 .. 31 (day of month);
- ``annually``: ``day`` is ``MM-DD``.

A day that is not a trading day, or that does not exist in that month (31 in a
30-day month, ``02-29`` in a common year), rolls BACK to the previous trading day.
Rolling back may leave the period: monthly day 1 in January (a holiday) rebalances
on the last trading day of the previous December.
"""

from __future__ import annotations

import calendar as gregorian
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from rebal_scheduler.domain.trading_calendar import TradingCalendar, session_on_or_before

QUARTER_END_MONTHS: frozenset[int] = frozenset({3, 6, 9, 12})
"""Months a ``quarterly`` condition rebalances in.

Alpaca's documentation text lists the quarterly months as "January, March, June
and December", which looks like a typo (January and December are adjacent, and
there is no September) for the quarter ends March, June, September and December.
We use the quarter ends; pass ``quarter_months`` to follow the text literally.
"""

WEEKDAYS: tuple[str, ...] = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")


class InvalidCalendarConditionError(ValueError):
    """A calendar condition whose ``sub_type`` or ``day`` Alpaca would reject."""


class CalendarSubType(StrEnum):
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    ANNUALLY = "annually"


@dataclass(frozen=True)
class CalendarCondition:
    """A validated calendar condition; ``day`` keeps Alpaca's wire form
    (``"Monday"``, ``15``, ``"03-31"``). Build it with :meth:`parse`."""

    sub_type: CalendarSubType
    day: str | int

    def __post_init__(self) -> None:
        _validate(self.sub_type, self.day)

    @classmethod
    def parse(cls, sub_type: str, day: str | int) -> CalendarCondition:
        """Validate raw wire values; a day of month may arrive as ``"15"``."""
        try:
            kind = CalendarSubType(sub_type)
        except ValueError:
            raise InvalidCalendarConditionError(f"unknown calendar sub_type {sub_type!r}") from None
        if kind in (CalendarSubType.MONTHLY, CalendarSubType.QUARTERLY) and isinstance(day, str):
            if not day.strip().isdigit():
                raise InvalidCalendarConditionError(f"{kind} day must be 1..31, got {day!r}")
            day = int(day)
        return cls(kind, day)


def _validate(sub_type: CalendarSubType, day: str | int) -> None:
    if sub_type is CalendarSubType.WEEKLY:
        if day not in WEEKDAYS:
            raise InvalidCalendarConditionError(f"weekly day must be Monday..Friday, got {day!r}")
    elif sub_type in (CalendarSubType.MONTHLY, CalendarSubType.QUARTERLY):
        # bool is an int subclass; True is not a day of month.
        if not isinstance(day, int) or isinstance(day, bool) or not 1 <= day <= 31:
            raise InvalidCalendarConditionError(f"{sub_type} day must be 1..31, got {day!r}")
    else:
        _parse_month_day(day)


def _parse_month_day(day: str | int) -> tuple[int, int]:
    """``"MM-DD"`` -> (month, day). A day no year has (``04-31``, ``02-30``) is
    rejected; ``02-29`` is accepted and rolls back in common years."""
    text = day if isinstance(day, str) else ""
    parts = text.split("-")
    if len(parts) != 2 or not all(len(p) == 2 and p.isdigit() for p in parts):
        raise InvalidCalendarConditionError(f"annually day must be 'MM-DD', got {day!r}")
    month, day_of_month = int(parts[0]), int(parts[1])
    leap_year = 2000
    if not 1 <= month <= 12 or not 1 <= day_of_month <= gregorian.monthrange(leap_year, month)[1]:
        raise InvalidCalendarConditionError(f"annually day {day!r} is not a calendar day")
    return month, day_of_month


def _clamped(year: int, month: int, day_of_month: int) -> date:
    """The day, or the month's last day when the month is shorter (the roll-back
    to the previous trading day starts from there)."""
    return date(year, month, min(day_of_month, gregorian.monthrange(year, month)[1]))


def _nominal_dates(
    condition: CalendarCondition, start: date, quarter_months: frozenset[int]
) -> Iterator[date]:
    """Ascending, before rolling to trading days, from the period containing
    ``start`` onwards (infinite)."""
    if condition.sub_type is CalendarSubType.WEEKLY:
        weekday = WEEKDAYS.index(str(condition.day))
        current = start + timedelta(days=(weekday - start.weekday()) % 7)
        while True:
            yield current
            current += timedelta(days=7)
    if condition.sub_type is CalendarSubType.ANNUALLY:
        month, day_of_month = _parse_month_day(condition.day)
        year = start.year
        while True:
            yield _clamped(year, month, day_of_month)
            year += 1
    months = (
        frozenset(range(1, 13)) if condition.sub_type is CalendarSubType.MONTHLY else quarter_months
    )
    day_of_month = int(condition.day)
    year, month = start.year, start.month
    while True:
        if month in months:
            yield _clamped(year, month, day_of_month)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def rebalance_dates(
    condition: CalendarCondition,
    start: date,
    end: date,
    calendar: TradingCalendar,
    *,
    quarter_months: frozenset[int] = QUARTER_END_MONTHS,
) -> tuple[date, ...]:
    """The trading days in ``[start, end]`` (inclusive) ``condition`` rebalances on.

    Rolling back never moves a date later, so a nominal date before ``start``
    cannot land in the range and the scan stops at the first rolled date past
    ``end``. Nominal dates after ``end`` are still looked at: they can roll back
    into the range (monthly day 1 of next January lands on Dec 31). Two nominal
    dates rolling onto the same trading day (a week-long closure) give one date.
    """
    if not quarter_months or not quarter_months <= frozenset(range(1, 13)):
        raise ValueError(f"quarter_months must be months 1..12, got {sorted(quarter_months)}")
    found: list[date] = []
    for nominal in _nominal_dates(condition, start, quarter_months):
        if nominal < start:
            continue
        rolled = session_on_or_before(calendar, nominal)
        if rolled > end:
            break
        if rolled >= start and (not found or found[-1] != rolled):
            found.append(rolled)
    return tuple(found)
