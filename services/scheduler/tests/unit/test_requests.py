"""Slots become rebalance.requested events with deterministic ids; model.updated becomes a condition."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from rebal_scheduler.domain import ALL_SCOPE, CalendarCondition, Slot, SlotKind, model_scope
from rebal_scheduler.service_layer.requests import (
    rebalance_request,
    scheduled_condition,
    slot_event_id,
)
from rebal_schemas import (
    ModelStatus,
    ModelUpdated,
    RebalanceCondition,
    RebalanceRequested,
    Weight,
    decode,
    encode,
    key_of,
)

AT = datetime(2026, 4, 2, 13, 35, tzinfo=UTC)
DAY = date(2026, 4, 2)


def test_calendar_slot_requests_one_model() -> None:
    slot = Slot(SlotKind.CALENDAR, model_scope("m-1"), AT, DAY)
    event = rebalance_request(slot, AT + timedelta(seconds=3), "scheduler")
    assert (event.scope, event.model_id, event.reason, event.slot_id) == (
        "model",
        "m-1",
        "calendar",
        "calendar:m-1:2026-04-02",
    )
    assert event.event_id == "slot:calendar:m-1:2026-04-02"
    assert event.occurred_at == AT and event.recorded_at == AT + timedelta(seconds=3)
    assert key_of(event) == b"m-1"
    assert decode("rebalance.requested", encode(event)) == event


@pytest.mark.parametrize(
    ("kind", "reason"), [(SlotKind.NIGHTLY, "nightly"), (SlotKind.DRIFT_SWEEP, "drift_sweep")]
)
def test_nightly_and_sweeps_request_everyone(kind: SlotKind, reason: str) -> None:
    event = rebalance_request(
        Slot(kind, ALL_SCOPE, AT, DAY).marked_late(), AT + timedelta(hours=1), "s"
    )
    assert (event.scope, event.model_id, event.reason, event.late) == ("all", None, reason, True)
    assert key_of(event) == b"*"


def test_two_schedulers_name_a_slot_alike_even_when_found_at_different_times() -> None:
    slot = Slot(SlotKind.DRIFT_SWEEP, ALL_SCOPE, AT, DAY)
    first = rebalance_request(slot, AT, "scheduler")
    second = rebalance_request(slot.marked_late(), AT + timedelta(hours=2), "scheduler")
    assert first.event_id == second.event_id == "slot:drift_sweep:2026-04-02T13:35Z"


def test_an_id_too_long_for_the_envelope_is_hashed_deterministically() -> None:
    model_id = "m" * 128
    slot = Slot(SlotKind.CALENDAR, model_scope(model_id), AT, DAY)
    event = rebalance_request(slot, AT, "scheduler")
    assert len(event.event_id) <= 128 and event.event_id.startswith("slot:sha256:")
    assert event.event_id == slot_event_id(slot.slot_id)
    other = Slot(
        SlotKind.CALENDAR, model_scope(model_id), AT + timedelta(days=1), DAY + timedelta(days=1)
    )
    assert slot_event_id(other.slot_id) != event.event_id
    assert isinstance(event, RebalanceRequested) and event.slot_id == slot.slot_id


def model(status: ModelStatus, *conditions: RebalanceCondition) -> ModelUpdated:
    weights = (Weight(type="asset", symbol="SPY", percent=Decimal("100")),)
    return ModelUpdated(
        model_id="m", name="m", status=status, weights=weights, rebalance_conditions=conditions
    )


DRIFT = RebalanceCondition(type="drift_band", sub_type="relative", percent=Decimal("10"))


@pytest.mark.parametrize(
    ("sub_type", "day", "expected"),
    [
        ("weekly", "Monday", CalendarCondition.parse("weekly", "Monday")),
        ("monthly", 31, CalendarCondition.parse("monthly", 31)),
        ("quarterly", "15", CalendarCondition.parse("quarterly", 15)),
        ("annually", "02-29", CalendarCondition.parse("annually", "02-29")),
    ],
)
def test_the_calendar_condition_of_an_active_model_is_scheduled(
    sub_type: str, day: str | int, expected: CalendarCondition
) -> None:
    calendar = RebalanceCondition(type="calendar", sub_type=sub_type, day=day)  # type: ignore[arg-type]
    assert scheduled_condition(model(ModelStatus.active, DRIFT, calendar)) == expected


@pytest.mark.parametrize("status", [ModelStatus.inactive, ModelStatus.needs_adjustment])
def test_models_that_must_not_run_are_not_scheduled(status: ModelStatus) -> None:
    calendar = RebalanceCondition(type="calendar", sub_type="weekly", day="Monday")
    assert scheduled_condition(model(status, calendar)) is None


def test_a_model_with_only_drift_bands_is_not_scheduled() -> None:
    assert scheduled_condition(model(ModelStatus.active, DRIFT)) is None
