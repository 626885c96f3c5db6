from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from rebal_runtime.calendar import ExchangeCalendar
from rebal_scheduler.domain import (
    CalendarCondition,
    MissedSlotPolicy,
    SchedulerConfig,
    ScheduleState,
    Slot,
    SlotKind,
    apply_model_updated,
    calendar_series,
    drift_sweep_slots,
    due_slots,
)

NY = ZoneInfo("America/New_York")
RUN_LATE = SchedulerConfig(missed_slot_policy=MissedSlotPolicy.RUN_LATE)
SKIP = SchedulerConfig(missed_slot_policy=MissedSlotPolicy.SKIP)
TUESDAY = CalendarCondition.parse("weekly", "Tuesday")
MONTHLY_3 = CalendarCondition.parse("monthly", 3)


def ny(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=NY).astimezone(UTC)


def started(
    at: datetime,
    calendar: ExchangeCalendar,
    config: SchedulerConfig = RUN_LATE,
    models: dict[str, CalendarCondition] | None = None,
) -> ScheduleState:
    state = ScheduleState()
    for model_id, condition in (models or {}).items():
        state = apply_model_updated(state, model_id, condition, active=True, at=at)
    slots, state = due_slots(state, at, calendar, config)
    assert slots == []  # a first start without backfill emits nothing
    return state


def ids(slots: list[Slot]) -> list[str]:
    return [s.slot_id for s in slots]


def test_first_start_has_no_backfill_and_sets_watermarks(xnys: ExchangeCalendar) -> None:
    now = ny(2026, 3, 3, 11, 0)  # after a Tuesday's 09:35 calendar slot and 02:00 nightly
    state = started(now, xnys, models={"m": TUESDAY})
    assert state.processed_through == now
    assert state.watermarks == {"nightly": now, "drift_sweep": now, "calendar:m": now}


def test_first_start_backfill_when_configured(xnys: ExchangeCalendar) -> None:
    config = SchedulerConfig(first_start_backfill=timedelta(hours=10))
    state = apply_model_updated(ScheduleState(), "m", TUESDAY, active=True, at=ny(2026, 3, 3))
    slots, _ = due_slots(state, ny(2026, 3, 3, 10, 0), xnys, config)
    assert ids(slots) == [
        "nightly:2026-03-03",
        "drift_sweep:2026-03-03T14:30Z",
        "calendar:m:2026-03-03",
        "drift_sweep:2026-03-03T15:00Z",
    ]
    # late_after is 5 minutes: only the sweep at `now` itself is on time.
    assert [s.late for s in slots] == [True, True, True, False]


def test_slots_come_once_and_in_order(xnys: ExchangeCalendar) -> None:
    state = started(ny(2026, 3, 2, 23, 0), xnys, models={"m": TUESDAY})
    slots, state = due_slots(state, ny(2026, 3, 3, 9, 35), xnys, RUN_LATE)
    assert ids(slots) == [
        "nightly:2026-03-03",
        "drift_sweep:2026-03-03T14:30Z",
        "calendar:m:2026-03-03",
    ]
    assert [s.scheduled_at for s in slots] == sorted(s.scheduled_at for s in slots)
    again, same_state = due_slots(state, ny(2026, 3, 3, 9, 35), xnys, RUN_LATE)
    assert again == []
    assert same_state == state


def test_a_clock_going_backwards_emits_nothing_and_keeps_watermarks(
    xnys: ExchangeCalendar,
) -> None:
    state = started(ny(2026, 3, 3, 12, 0), xnys, models={"m": TUESDAY})
    slots, back = due_slots(state, ny(2026, 3, 3, 9, 0), xnys, RUN_LATE)
    assert slots == []
    assert back.watermarks == state.watermarks
    assert back.processed_through == state.processed_through


def test_run_late_emits_every_missed_slot_once(xnys: ExchangeCalendar) -> None:
    models = {"weekly": TUESDAY, "monthly": MONTHLY_3}
    down_at, back_at = ny(2026, 3, 2, 10, 0), ny(2026, 3, 5, 12, 0)
    state = started(down_at, xnys, RUN_LATE, models)
    slots, _ = due_slots(state, back_at, xnys, RUN_LATE)
    by_kind = {kind: [s for s in slots if s.kind is kind] for kind in SlotKind}
    assert ids(by_kind[SlotKind.NIGHTLY]) == [
        "nightly:2026-03-03",
        "nightly:2026-03-04",
        "nightly:2026-03-05",
    ]
    assert ids(by_kind[SlotKind.CALENDAR]) == [
        "calendar:monthly:2026-03-03",
        "calendar:weekly:2026-03-03",
    ]
    sweeps = by_kind[SlotKind.DRIFT_SWEEP]
    assert len(sweeps) == 11 + 13 + 13 + 6  # Mon 10:30.., Tue, Wed, Thu ..12:00
    assert sweeps == [
        s if s.scheduled_at == back_at else s.marked_late()
        for s in drift_sweep_slots(down_at, back_at, xnys, RUN_LATE)
    ]
    assert all(s.late for s in slots if s.scheduled_at < back_at - RUN_LATE.late_after)
    assert len(set(ids(slots))) == len(slots)


def test_skip_keeps_only_the_latest_missed_slot_per_series(xnys: ExchangeCalendar) -> None:
    models = {"weekly": TUESDAY, "monthly": MONTHLY_3}
    state = started(ny(2026, 3, 2, 10, 0), xnys, SKIP, models)
    slots, state = due_slots(state, ny(2026, 3, 5, 12, 0), xnys, SKIP)
    assert [(s.slot_id, s.late) for s in slots] == [
        ("calendar:monthly:2026-03-03", True),
        ("calendar:weekly:2026-03-03", True),
        ("nightly:2026-03-05", True),
        ("drift_sweep:2026-03-05T17:00Z", False),  # 12:00 EST, on time
    ]
    # The dropped slots are gone for good.
    later, _ = due_slots(state, ny(2026, 3, 5, 12, 30), xnys, SKIP)
    assert ids(later) == ["drift_sweep:2026-03-05T17:30Z"]


def test_skip_and_run_late_agree_when_nothing_is_late(xnys: ExchangeCalendar) -> None:
    models = {"weekly": TUESDAY}
    late_state = started(ny(2026, 3, 2, 23, 0), xnys, RUN_LATE, models)
    skip_state = started(ny(2026, 3, 2, 23, 0), xnys, SKIP, models)
    now = ny(2026, 3, 2, 23, 0)
    emitted: dict[str, list[str]] = {"run_late": [], "skip": []}
    while now < ny(2026, 3, 4):
        now += timedelta(minutes=5)
        late_slots, late_state = due_slots(late_state, now, xnys, RUN_LATE)
        skip_slots, skip_state = due_slots(skip_state, now, xnys, SKIP)
        assert not any(s.late for s in late_slots)
        emitted["run_late"] += ids(late_slots)
        emitted["skip"] += ids(skip_slots)
    assert emitted["run_late"] == emitted["skip"]
    assert "calendar:weekly:2026-03-03" in emitted["skip"]


def test_a_model_learnt_later_starts_at_its_update(xnys: ExchangeCalendar) -> None:
    state = started(ny(2026, 3, 3, 8, 0), xnys)
    # Created at 09:40, after the 09:35 slot: that slot is not owed.
    state = apply_model_updated(state, "m", TUESDAY, active=True, at=ny(2026, 3, 3, 9, 40))
    slots, state = due_slots(state, ny(2026, 3, 10, 10, 0), xnys, RUN_LATE)
    calendar_ids = [s.slot_id for s in slots if s.kind is SlotKind.CALENDAR]
    assert calendar_ids == ["calendar:m:2026-03-10"]


def test_replaying_an_old_model_event_creates_no_backlog(xnys: ExchangeCalendar) -> None:
    state = started(ny(2026, 3, 20, 12, 0), xnys)
    state = apply_model_updated(state, "m", TUESDAY, active=True, at=ny(2026, 1, 1))
    assert state.watermarks[calendar_series("m")] == ny(2026, 3, 20, 12, 0)
    slots, _ = due_slots(state, ny(2026, 3, 20, 12, 5), xnys, RUN_LATE)
    assert not [s for s in slots if s.kind is SlotKind.CALENDAR]


def test_a_changed_condition_keeps_the_watermark(xnys: ExchangeCalendar) -> None:
    state = started(ny(2026, 3, 3, 12, 0), xnys, models={"m": TUESDAY})
    # Now monthly on the 2nd: Mar 2 is in the past and must not fire retroactively.
    changed = apply_model_updated(
        state, "m", CalendarCondition.parse("monthly", 2), active=True, at=ny(2026, 3, 3, 12, 1)
    )
    assert changed.watermarks[calendar_series("m")] == ny(2026, 3, 3, 12, 0)
    slots, _ = due_slots(changed, ny(2026, 4, 2, 10, 0), xnys, RUN_LATE)
    assert [s.slot_id for s in slots if s.kind is SlotKind.CALENDAR] == ["calendar:m:2026-04-02"]


@pytest.mark.parametrize(("active", "condition"), [(False, TUESDAY), (True, None)])
def test_deactivated_or_calendarless_models_are_removed(
    xnys: ExchangeCalendar, active: bool, condition: CalendarCondition | None
) -> None:
    state = started(ny(2026, 3, 2, 12, 0), xnys, models={"m": TUESDAY, "other": TUESDAY})
    state = apply_model_updated(state, "m", condition, active=active, at=ny(2026, 3, 2, 13, 0))
    assert "m" not in state.models
    assert calendar_series("m") not in state.watermarks
    slots, _ = due_slots(state, ny(2026, 3, 4), xnys, RUN_LATE)
    assert [s.slot_id for s in slots if s.kind is SlotKind.CALENDAR] == [
        "calendar:other:2026-03-03"
    ]


def test_models_learnt_before_the_first_start_start_with_it(xnys: ExchangeCalendar) -> None:
    state = apply_model_updated(ScheduleState(), "m", TUESDAY, active=True, at=ny(2026, 1, 6))
    assert calendar_series("m") not in state.watermarks
    slots, state = due_slots(state, ny(2026, 3, 3, 12, 0), xnys, RUN_LATE)
    assert slots == []
    assert state.watermarks[calendar_series("m")] == ny(2026, 3, 3, 12, 0)


def test_state_document_round_trips_through_json(xnys: ExchangeCalendar) -> None:
    state = started(
        ny(2026, 3, 2, 12, 0),
        xnys,
        models={"w": TUESDAY, "a": CalendarCondition.parse("annually", "02-29")},
    )
    document = json.loads(json.dumps(state.to_document()))
    assert ScheduleState.from_document(document) == state
    assert ScheduleState.from_document(ScheduleState().to_document()) == ScheduleState()


def test_naive_now_is_rejected(xnys: ExchangeCalendar) -> None:
    with pytest.raises(ValueError, match="aware"):
        due_slots(ScheduleState(), datetime(2026, 3, 2, 12, 0), xnys, RUN_LATE)


def test_a_model_read_a_little_late_still_gets_the_slot_that_passed_meanwhile(
    xnys: ExchangeCalendar,
) -> None:
    """Created at 09:30, read by the scheduler at 09:37 (consumer lag) after it had ticked past
    the 09:35 slot: within the grace the slot is still owed; beyond it, it is not."""
    ticked = started(ny(2026, 3, 3, 8, 0), xnys)
    _, ticked = due_slots(ticked, ny(2026, 3, 3, 9, 37), xnys, RUN_LATE)
    late = apply_model_updated(
        ticked, "m", TUESDAY, active=True, at=ny(2026, 3, 3, 9, 30), grace=timedelta(minutes=5)
    )
    slots, _ = due_slots(late, ny(2026, 3, 3, 9, 38), xnys, RUN_LATE)
    assert [s.slot_id for s in slots if s.kind is SlotKind.CALENDAR] == ["calendar:m:2026-03-03"]
    too_late = apply_model_updated(
        ticked, "m", TUESDAY, active=True, at=ny(2026, 3, 3, 9, 30), grace=timedelta(minutes=1)
    )
    slots, _ = due_slots(too_late, ny(2026, 3, 3, 9, 38), xnys, RUN_LATE)
    assert [s for s in slots if s.kind is SlotKind.CALENDAR] == []
