"""The execution window on the runtime's calendar: 09:30-15:30 New York on sessions, clipped to
early closes, none on weekends and holidays; ALWAYS_OPEN is always inside."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path

import pytest

from rebal_order_router.bootstrap import execution_window
from rebal_order_router.domain import NEW_YORK, ExecutionWindow
from rebal_order_router.settings import RouterSettings
from rebal_runtime.service import ServiceRuntime
from rebal_runtime.testing.calendars import nyse_2026

WINDOW = ExecutionWindow(nyse_2026())


def ny(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=NEW_YORK)


TUESDAY = date(2026, 3, 10)
FRIDAY = date(2026, 3, 13)
MONDAY = date(2026, 3, 16)


@pytest.mark.parametrize(
    ("moment", "inside"),
    [
        (ny(TUESDAY, 2), False),  # the nightly batch: before the open
        (ny(TUESDAY, 9, 29, 59), False),
        (ny(TUESDAY, 9, 30), True),  # the open is inside
        (ny(TUESDAY, 12), True),
        (ny(TUESDAY, 15, 29, 59), True),
        (ny(TUESDAY, 15, 30), False),  # the close is not
        (ny(TUESDAY, 16, 30), False),  # after the close (the session itself ends at 16:00)
        (ny(date(2026, 3, 14), 12), False),  # Saturday
        (ny(date(2026, 4, 3), 12), False),  # Good Friday: a weekday holiday
    ],
)
def test_inside_the_window(moment: datetime, inside: bool) -> None:
    assert WINDOW.is_open(moment) is inside
    assert WINDOW.is_open(moment.astimezone(UTC)) is inside  # any zone, the same instant


@pytest.mark.parametrize(
    ("moment", "opening"),
    [
        (ny(TUESDAY, 2), ny(TUESDAY, 9, 30)),  # before the open: the same day
        (ny(TUESDAY, 15, 30), ny(date(2026, 3, 11), 9, 30)),  # at the close: the next session
        (ny(FRIDAY, 18), ny(MONDAY, 9, 30)),  # over the weekend
        (ny(date(2026, 3, 14), 2), ny(MONDAY, 9, 30)),
        (ny(date(2026, 4, 2), 16), ny(date(2026, 4, 6), 9, 30)),  # over Good Friday
        (ny(date(2026, 12, 31), 20), ny(date(2027, 1, 4), 9, 30)),  # New Year, then a weekend
    ],
)
def test_next_opening(moment: datetime, opening: datetime) -> None:
    found = WINDOW.next_opening(moment)
    assert found == opening
    assert found.tzinfo is UTC


def test_an_open_window_opens_now() -> None:
    now = ny(TUESDAY, 11)
    assert WINDOW.next_opening(now) == now


def test_an_early_close_ends_the_window_with_the_session() -> None:
    black_friday = date(2026, 11, 27)  # the exchange closes at 13:00
    assert WINDOW.hours(black_friday) == (
        ny(black_friday, 9, 30).astimezone(UTC),
        ny(black_friday, 13).astimezone(UTC),
    )
    assert WINDOW.is_open(ny(black_friday, 12, 59))
    assert not WINDOW.is_open(ny(black_friday, 13))
    assert WINDOW.next_opening(ny(black_friday, 14)) == ny(date(2026, 11, 30), 9, 30)


def test_the_window_across_daylight_saving_time() -> None:
    # New York moves to EDT on 2026-03-08: 09:30 is 14:30 UTC before and 13:30 UTC after
    assert WINDOW.hours(date(2026, 3, 6)) == (
        datetime(2026, 3, 6, 14, 30, tzinfo=UTC),
        datetime(2026, 3, 6, 20, 30, tzinfo=UTC),
    )
    assert WINDOW.hours(TUESDAY) == (
        datetime(2026, 3, 10, 13, 30, tzinfo=UTC),
        datetime(2026, 3, 10, 19, 30, tzinfo=UTC),
    )


def test_configured_hours_and_their_order() -> None:
    late = ExecutionWindow(nyse_2026(), opens=time(10), closes=time(11))
    assert not late.is_open(ny(TUESDAY, 9, 45))
    assert late.is_open(ny(TUESDAY, 10, 30))
    assert late.next_opening(ny(TUESDAY, 11)) == ny(date(2026, 3, 11), 10)
    with pytest.raises(ValueError, match="open before it closes"):
        ExecutionWindow(nyse_2026(), opens=time(15), closes=time(9))


@pytest.mark.parametrize(
    ("since", "now", "open_since"),
    [
        (ny(TUESDAY, 10), ny(TUESDAY, 15, 29, 59), True),  # the same window, still open
        (ny(TUESDAY, 9, 30), ny(TUESDAY, 12), True),
        (ny(TUESDAY, 15, 29), ny(TUESDAY, 15, 30), False),  # closed now
        (ny(TUESDAY, 15, 30, 1), ny(TUESDAY, 16), False),  # began after the close: closed
        (ny(TUESDAY, 15), ny(date(2026, 3, 11), 9, 35), False),  # a close in between
        (ny(TUESDAY, 2), ny(TUESDAY, 10), False),  # before this window opened
    ],
)
def test_open_since(since: datetime, now: datetime, open_since: bool) -> None:
    assert WINDOW.open_since(since, now) is open_since


def test_always_open_is_inside_at_any_hour_of_any_day() -> None:
    always = ExecutionWindow()
    for moment in (ny(date(2026, 3, 14), 2), ny(date(2026, 12, 25), 23, 59), ny(TUESDAY, 16)):
        assert always.is_open(moment)
        assert always.next_opening(moment) == moment
        assert always.open_since(ny(date(2026, 1, 2), 3), moment)


def test_the_bootstrap_builds_the_window_from_the_settings(tmp_path: Path) -> None:
    """On the runtime's calendar (XNYS, read at start: mypy checks it is a SessionCalendar)."""

    def window(**overrides: object) -> ExecutionWindow:
        settings = RouterSettings(
            _env_file=None,  # type: ignore[call-arg]
            store_url=f"sqlite:///{tmp_path / 'router.sqlite'}",
            **overrides,  # type: ignore[arg-type]
        )
        return execution_window(settings, ServiceRuntime(settings))

    assert window(profile="dev", trading_calendar="ALWAYS_OPEN").always_open
    xnys = window(execution_window_open=time(10), execution_window_close=time(15))
    assert not xnys.always_open and (xnys.opens, xnys.closes) == (time(10), time(15))
    assert xnys.is_open(ny(TUESDAY, 14, 59)) and not xnys.is_open(ny(TUESDAY, 15))
