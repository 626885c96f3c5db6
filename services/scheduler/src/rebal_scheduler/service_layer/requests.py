"""Slots -> ``rebalance.requested`` events, and model.updated -> calendar conditions."""

from __future__ import annotations

import hashlib
from datetime import datetime

from rebal_scheduler.domain.calendar_rules import CalendarCondition, InvalidCalendarConditionError
from rebal_scheduler.domain.slots import Slot
from rebal_schemas import (
    ModelStatus,
    ModelUpdated,
    PoisonMessage,
    RebalanceRequested,
    TriggerReason,
)

EVENT_ID_PREFIX = "slot:"
_MAX_EVENT_ID = 128


def slot_event_id(slot_id: str) -> str:
    """The event id of a slot's request: a pure function of the slot.

    Two schedulers, even with separate stores, name a slot's request alike, so
    the optimizer's inbox drops the second one. An id that would not fit the
    envelope's 128 characters (a very long model id) is hashed instead.
    """
    event_id = EVENT_ID_PREFIX + slot_id
    if len(event_id) <= _MAX_EVENT_ID:
        return event_id
    return EVENT_ID_PREFIX + "sha256:" + hashlib.sha256(slot_id.encode()).hexdigest()


def rebalance_request(slot: Slot, now: datetime, producer: str) -> RebalanceRequested:
    """Calendar slots evaluate one model's subscribers; nightly and sweeps everyone.

    ``occurred_at`` is when the slot was due and ``recorded_at`` when it was
    found, so a consumer sees how late it is. No ``run_type``: the optimizer
    decides from ``reason`` (a calendar slot is a met calendar condition, the
    others evaluate drift bands) and from each portfolio's cooldown.
    """
    model_id = slot.model_id
    return RebalanceRequested(
        event_id=slot_event_id(slot.slot_id),
        occurred_at=slot.scheduled_at,
        recorded_at=now,
        producer=producer,
        scope="model" if model_id is not None else "all",
        model_id=model_id,
        reason=TriggerReason(slot.kind.value),
        slot_id=slot.slot_id,
        late=slot.late,
    )


def scheduled_condition(event: ModelUpdated) -> CalendarCondition | None:
    """The calendar condition to schedule for this model, or None to unschedule it.

    Only an ``active`` model is scheduled. ``needs_adjustment`` (a weight that
    can no longer be traded) is unscheduled like ``inactive``: Alpaca stops
    queuing runs for such a model until it is fixed, and the fix arrives as a
    new model.updated with status ``active``, which schedules it again.
    """
    if event.status is not ModelStatus.active:
        return None
    for condition in event.rebalance_conditions:
        if condition.type == "calendar":
            try:
                return CalendarCondition.parse(condition.sub_type, condition.day or "")
            except InvalidCalendarConditionError as exc:
                # The schema validates the same rules; a disagreement is still bad input.
                raise PoisonMessage(f"model {event.model_id}: {exc}") from exc
    return None
