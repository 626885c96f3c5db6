"""The New York Stock Exchange's published 2026 calendar, for tests: what XNYS must say, and a
weekday calendar that says the same without exchange_calendars."""

from __future__ import annotations

from datetime import date, time

from rebal_runtime.calendar import RuleCalendar, weekday_calendar

# NYSE 2026 holidays as published by the exchange (nyse.com "Holidays & Trading Hours").
NYSE_HOLIDAYS_2026 = (
    date(2026, 1, 1),  # New Year's Day
    date(2026, 1, 19),  # Martin Luther King Jr. Day
    date(2026, 2, 16),  # Washington's Birthday
    date(2026, 4, 3),  # Good Friday
    date(2026, 5, 25),  # Memorial Day
    date(2026, 6, 19),  # Juneteenth
    date(2026, 7, 3),  # Independence Day (observed; July 4 is a Saturday)
    date(2026, 9, 7),  # Labor Day
    date(2026, 11, 26),  # Thanksgiving
    date(2026, 12, 25),  # Christmas
)
NEW_YEAR_2027 = date(2027, 1, 1)  # rules that roll back from New Year's Day 2027 need it
NYSE_EARLY_CLOSES_2026 = {date(2026, 11, 27): time(13, 0), date(2026, 12, 24): time(13, 0)}


def nyse_2026() -> RuleCalendar:
    """Monday..Friday 09:30-16:00 New York minus the 2026 holidays (and New Year 2027), with the
    2026 early closes: XNYS through 2026."""
    return weekday_calendar((*NYSE_HOLIDAYS_2026, NEW_YEAR_2027), NYSE_EARLY_CLOSES_2026)
