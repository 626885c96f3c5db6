from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from rebal_runtime.calendar import ExchangeCalendar
from rebal_scheduler.domain import (
    ALL_SCOPE,
    CalendarCondition,
    SchedulerConfig,
    Slot,
    SlotKind,
    calendar_slots,
    drift_sweep_slots,
    drift_sweep_times,
    model_scope,
    nightly_slots,
)

NY = ZoneInfo("America/New_York")
CONFIG = SchedulerConfig()


def ny(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=NY).astimezone(UTC)


def test_slot_ids_are_deterministic_and_ignore_lateness() -> None:
    day = date(2026, 3, 31)
    calendar_slot = Slot(SlotKind.CALENDAR, model_scope("m-1"), ny(2026, 3, 31, 9, 35), day)
    nightly = Slot(SlotKind.NIGHTLY, ALL_SCOPE, ny(2026, 3, 31, 2), day)
    sweep = Slot(SlotKind.DRIFT_SWEEP, ALL_SCOPE, ny(2026, 3, 31, 10, 30), day)
    assert calendar_slot.slot_id == "calendar:m-1:2026-03-31"
    assert nightly.slot_id == "nightly:2026-03-31"
    assert sweep.slot_id == "drift_sweep:2026-03-31T14:30Z"  # 10:30 EDT
    assert calendar_slot.marked_late().slot_id == calendar_slot.slot_id
    assert calendar_slot.marked_late().late
    assert not calendar_slot.late
    assert (calendar_slot.series, nightly.series, sweep.series) == (
        "calendar:m-1",
        "nightly",
        "drift_sweep",
    )
    assert calendar_slot.model_id == "m-1"
    assert nightly.model_id is None


def test_slot_rejects_naive_or_non_utc_times_and_wrong_scopes() -> None:
    day = date(2026, 3, 2)
    with pytest.raises(ValueError, match="UTC"):
        Slot(SlotKind.NIGHTLY, ALL_SCOPE, datetime(2026, 3, 2, 7), day)
    with pytest.raises(ValueError, match="UTC"):
        Slot(
            SlotKind.NIGHTLY,
            ALL_SCOPE,
            datetime(2026, 3, 2, 2, tzinfo=timezone(-timedelta(hours=5))),
            day,
        )
    with pytest.raises(ValueError, match="scope"):
        Slot(SlotKind.CALENDAR, ALL_SCOPE, ny(2026, 3, 2, 9, 35), day)
    with pytest.raises(ValueError, match="scope"):
        Slot(SlotKind.DRIFT_SWEEP, model_scope("m"), ny(2026, 3, 2, 9, 30), day)


def test_calendar_slot_time_follows_dst(xnys: ExchangeCalendar) -> None:
    monthly_2 = CalendarCondition.parse("monthly", 2)
    slots = calendar_slots("m", monthly_2, ny(2026, 3, 1), ny(2026, 4, 30), xnys, CONFIG)
    assert [s.scheduled_at for s in slots] == [
        datetime(2026, 3, 2, 14, 35, tzinfo=UTC),  # EST
        datetime(2026, 4, 2, 13, 35, tzinfo=UTC),  # EDT
    ]
    assert [s.slot_id for s in slots] == ["calendar:m:2026-03-02", "calendar:m:2026-04-02"]


def test_calendar_slot_is_pulled_inside_an_early_close(xnys: ExchangeCalendar) -> None:
    late_config = SchedulerConfig(calendar_time=time(14, 0))
    thanksgiving = CalendarCondition.parse("annually", "11-26")  # rolls to Nov 25
    friday_after = CalendarCondition.parse("annually", "11-27")
    window = (ny(2026, 11, 1), ny(2026, 11, 30))
    [regular] = calendar_slots("m", thanksgiving, *window, xnys, late_config)
    [early] = calendar_slots("m", friday_after, *window, xnys, late_config)
    assert regular.scheduled_at == ny(2026, 11, 25, 14, 0)
    assert early.scheduled_at == ny(2026, 11, 27, 12, 30)  # 13:00 close - 30 min


def test_nightly_runs_on_trading_days_only(xnys: ExchangeCalendar) -> None:
    slots = nightly_slots(ny(2026, 7, 1), ny(2026, 7, 7), xnys, CONFIG)
    # Jul 3 (observed holiday) and the weekend have no nightly.
    assert [s.trading_day for s in slots] == [date(2026, 7, 1), date(2026, 7, 2), date(2026, 7, 6)]
    assert slots[0].scheduled_at == datetime(2026, 7, 1, 6, 0, tzinfo=UTC)  # 02:00 EDT
    assert {s.scope for s in slots} == {ALL_SCOPE}
    assert (
        nightly_slots(ny(2026, 7, 1), ny(2026, 7, 7), xnys, SchedulerConfig(nightly_enabled=False))
        == []
    )


def test_nightly_count_over_2026_equals_sessions(xnys: ExchangeCalendar) -> None:
    slots = nightly_slots(ny(2026, 1, 1), ny(2027, 1, 1), xnys, CONFIG)
    sessions = xnys.sessions_in_range(date(2026, 1, 1), date(2026, 12, 31))
    assert [s.trading_day for s in slots] == list(sessions)
    assert len(slots) == 251


def test_drift_sweeps_on_a_normal_day(xnys: ExchangeCalendar) -> None:
    times = drift_sweep_times(date(2026, 3, 2), xnys, CONFIG)
    assert len(times) == 13  # 09:30, 10:00, ..., 15:30 inclusive
    assert times[0] == ny(2026, 3, 2, 9, 30)
    assert times[-1] == ny(2026, 3, 2, 15, 30)
    assert all(b - a == timedelta(minutes=30) for a, b in itertools.pairwise(times))


@pytest.mark.parametrize("early_close_day", [date(2026, 11, 27), date(2026, 12, 24)])
def test_drift_sweeps_on_early_close_days(xnys: ExchangeCalendar, early_close_day: date) -> None:
    times = drift_sweep_times(early_close_day, xnys, CONFIG)
    assert len(times) == 7  # 09:30 .. 12:30 (13:00 close - 30 min)
    assert times[-1] == xnys.session_close(early_close_day) - timedelta(minutes=30)


@pytest.mark.parametrize(("minutes", "per_day"), [(30, 13), (60, 7), (45, 9), (360, 2), (361, 1)])
def test_drift_sweep_interval_is_configurable(
    xnys: ExchangeCalendar, minutes: int, per_day: int
) -> None:
    config = SchedulerConfig(drift_sweep_every=timedelta(minutes=minutes))
    assert len(drift_sweep_times(date(2026, 3, 2), xnys, config)) == per_day


def test_drift_sweep_count_over_2026(xnys: ExchangeCalendar) -> None:
    slots = drift_sweep_slots(ny(2026, 1, 1), ny(2027, 1, 1), xnys, CONFIG)
    normal_days = 251 - 2
    assert len(slots) == normal_days * 13 + 2 * 7
    assert len({s.slot_id for s in slots}) == len(slots)
    assert not any(s.trading_day in (date(2026, 11, 26), date(2026, 12, 25)) for s in slots)


def test_interval_is_open_at_the_start_and_closed_at_the_end(xnys: ExchangeCalendar) -> None:
    at_1000, at_1030 = ny(2026, 3, 2, 10, 0), ny(2026, 3, 2, 10, 30)
    assert [s.scheduled_at for s in drift_sweep_slots(at_1000, at_1030, xnys, CONFIG)] == [at_1030]
    assert drift_sweep_slots(at_1030, at_1030, xnys, CONFIG) == []
    assert drift_sweep_slots(at_1030, at_1000, xnys, CONFIG) == []


@pytest.mark.parametrize(
    "kwargs",
    [
        {"calendar_time": time(9, 0)},
        {"calendar_time": time(16, 0)},
        {"trading_window_start": time(16, 0)},
        {"drift_sweep_every": timedelta(milliseconds=1500)},
        {"trading_window_start": time(9, 30, 0, 500)},
        {"drift_sweep_every": timedelta(0)},
        {"late_after": timedelta(minutes=-1)},
        {"quarter_months": frozenset()},
        {"nightly_time": time(2, 0, tzinfo=UTC)},
    ],
)
def test_invalid_configs_are_rejected(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        SchedulerConfig(**kwargs)  # type: ignore[arg-type]


def test_sub_minute_sweeps_get_second_precise_distinct_ids(xnys: ExchangeCalendar) -> None:
    """The demo/test knob: sweeps every 20 s. Whole-minute sweeps keep the minute-only id."""
    config = SchedulerConfig(drift_sweep_every=timedelta(seconds=20))
    slots = drift_sweep_slots(ny(2026, 3, 2, 9, 29), ny(2026, 3, 2, 9, 31), xnys, config)
    assert [s.slot_id for s in slots] == [
        "drift_sweep:2026-03-02T14:30Z",
        "drift_sweep:2026-03-02T14:30:20Z",
        "drift_sweep:2026-03-02T14:30:40Z",
        "drift_sweep:2026-03-02T14:31Z",
    ]
