"""A simulated clock over the whole of 2026 on the real XNYS calendar: however
``now`` advances (and even across restarts that reload the state document),
the scheduler emits exactly the slots of one big step, each once."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rebal_runtime.calendar import ExchangeCalendar
from rebal_scheduler.domain import (
    CalendarCondition,
    MissedSlotPolicy,
    SchedulerConfig,
    ScheduleState,
    Slot,
    SlotKind,
    apply_model_updated,
    due_slots,
    rebalance_dates,
    slot_order,
)

NY = ZoneInfo("America/New_York")
YEAR_START = datetime(2026, 1, 1, tzinfo=NY).astimezone(UTC)
YEAR_END = datetime(2027, 1, 1, tzinfo=NY).astimezone(UTC)
RUN_LATE = SchedulerConfig(missed_slot_policy=MissedSlotPolicy.RUN_LATE)
SKIP = SchedulerConfig(missed_slot_policy=MissedSlotPolicy.SKIP)
MODELS = {
    "weekly-mon": CalendarCondition.parse("weekly", "Monday"),
    "weekly-fri": CalendarCondition.parse("weekly", "Friday"),
    "monthly-1": CalendarCondition.parse("monthly", 1),
    "monthly-31": CalendarCondition.parse("monthly", 31),
    "quarterly-31": CalendarCondition.parse("quarterly", 31),
    "annual-0229": CalendarCondition.parse("annually", "02-29"),
    "annual-0704": CalendarCondition.parse("annually", "07-04"),
    "annual-1225": CalendarCondition.parse("annually", "12-25"),
    "annual-0101": CalendarCondition.parse("annually", "01-01"),
}


def fresh_state(calendar: ExchangeCalendar, config: SchedulerConfig) -> ScheduleState:
    state = ScheduleState()
    for model_id, condition in MODELS.items():
        state = apply_model_updated(state, model_id, condition, active=True, at=YEAR_START)
    slots, state = due_slots(state, YEAR_START, calendar, config)
    assert slots == []
    return state


def one_big_step(calendar: ExchangeCalendar) -> list[Slot]:
    slots, _ = due_slots(fresh_state(calendar, RUN_LATE), YEAR_END, calendar, RUN_LATE)
    return slots


@pytest.fixture(scope="module")
def reference(xnys: ExchangeCalendar) -> list[Slot]:
    return one_big_step(xnys)


def test_one_big_step_matches_the_rules(xnys: ExchangeCalendar, reference: list[Slot]) -> None:
    slots = reference
    assert slots == sorted(slots, key=slot_order)
    sessions = list(xnys.sessions_in_range(date(2026, 1, 1), date(2026, 12, 31)))
    nightly = [s.trading_day for s in slots if s.kind is SlotKind.NIGHTLY]
    assert nightly == sessions
    sweeps = [s for s in slots if s.kind is SlotKind.DRIFT_SWEEP]
    early_close_days = {date(2026, 11, 27), date(2026, 12, 24)}
    assert len(sweeps) == (len(sessions) - 2) * 13 + 2 * 7
    for day in early_close_days:
        assert len([s for s in sweeps if s.trading_day == day]) == 7
    for model_id, condition in MODELS.items():
        days = [s.trading_day for s in slots if s.model_id == model_id]
        assert days == list(rebalance_dates(condition, date(2026, 1, 1), date(2026, 12, 31), xnys))
    assert len({s.slot_id for s in slots}) == len(slots)


steps = st.lists(
    st.one_of(st.integers(0, 90), st.integers(91, 20_160)),  # minutes; up to two weeks
    max_size=150,
)


@settings(max_examples=40, deadline=None)
@given(step_minutes=steps, restarts=st.lists(st.booleans(), max_size=150))
def test_any_stepping_yields_the_big_step_slots_once(
    xnys: ExchangeCalendar,
    reference: list[Slot],
    step_minutes: list[int],
    restarts: list[bool],
) -> None:
    state = fresh_state(xnys, RUN_LATE)
    emitted: list[Slot] = []
    now = YEAR_START
    for index, minutes in enumerate([*step_minutes, 10**9]):
        now = min(now + timedelta(minutes=minutes), YEAR_END)
        if index < len(restarts) and restarts[index]:
            state = ScheduleState.from_document(state.to_document())  # a restart
        slots, state = due_slots(state, now, xnys, RUN_LATE)
        assert all(s.scheduled_at <= now for s in slots)
        assert all(s.late == (now - s.scheduled_at > RUN_LATE.late_after) for s in slots)
        emitted.extend(slots)
    assert [s.slot_id for s in emitted] == [s.slot_id for s in reference]
    assert [s.scheduled_at for s in emitted] == sorted(s.scheduled_at for s in emitted)


@settings(max_examples=25, deadline=None)
@given(step_minutes=steps)
def test_skip_drops_only_older_missed_slots_of_a_series(
    xnys: ExchangeCalendar, reference: list[Slot], step_minutes: list[int]
) -> None:
    late_state, skip_state = fresh_state(xnys, RUN_LATE), fresh_state(xnys, SKIP)
    now = YEAR_START
    all_skipped: list[str] = []
    for minutes in [*step_minutes, 10**9]:
        now = min(now + timedelta(minutes=minutes), YEAR_END)
        late_slots, late_state = due_slots(late_state, now, xnys, RUN_LATE)
        skip_slots, skip_state = due_slots(skip_state, now, xnys, SKIP)
        latest_of_series = {s.series: s.slot_id for s in late_slots}
        expected = [s for s in late_slots if not s.late or s.slot_id == latest_of_series[s.series]]
        assert skip_slots == expected
        all_skipped += [s.slot_id for s in skip_slots]
    assert len(set(all_skipped)) == len(all_skipped)
    assert set(all_skipped) <= {s.slot_id for s in reference}
