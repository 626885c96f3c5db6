"""The scheduler's aggregate: known model calendars and per-series watermarks.

A watermark is the instant a series has been processed THROUGH (every slot at or
before it has been emitted or deliberately dropped). It moves to ``now`` on
every :func:`due_slots` call, not just to the last slot's time, so a calendar
condition changed later cannot retroactively create a slot in the past.
:func:`due_slots` only looks at ``(watermark, now]`` and never moves a watermark
backwards, so no slot is emitted twice by one state, and a slot's id is the
same in every instance, so duplicates across instances are deduped downstream.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from rebal_scheduler.domain.calendar_rules import CalendarCondition
from rebal_scheduler.domain.config import MissedSlotPolicy, SchedulerConfig
from rebal_scheduler.domain.slots import (
    Slot,
    SlotKind,
    calendar_slots,
    drift_sweep_slots,
    nightly_slots,
    slot_order,
)
from rebal_scheduler.domain.trading_calendar import TradingCalendar

_GLOBAL_SERIES: tuple[str, ...] = (SlotKind.NIGHTLY.value, SlotKind.DRIFT_SWEEP.value)


def calendar_series(model_id: str) -> str:
    return f"calendar:{model_id}"


def _require_aware(moment: datetime, name: str) -> datetime:
    if moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class ScheduleState:
    """Never mutated: every operation returns a new state (mappings are copied).

    ``processed_through`` is None until the first :func:`due_slots` call; series
    without a watermark (the first start, models learnt before it) then start at
    ``now - config.first_start_backfill``.
    """

    models: Mapping[str, CalendarCondition] = field(default_factory=dict)
    watermarks: Mapping[str, datetime] = field(default_factory=dict)
    processed_through: datetime | None = None

    def to_document(self) -> dict[str, Any]:
        """JSON-ready form for the store (one document per scheduler)."""
        return {
            "processed_through": _iso(self.processed_through),
            "watermarks": {k: v.isoformat() for k, v in sorted(self.watermarks.items())},
            "models": {
                model_id: {"sub_type": c.sub_type.value, "day": c.day}
                for model_id, c in sorted(self.models.items())
            },
        }

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> ScheduleState:
        through = document.get("processed_through")
        return cls(
            models={
                model_id: CalendarCondition.parse(raw["sub_type"], raw["day"])
                for model_id, raw in document.get("models", {}).items()
            },
            watermarks={
                k: _require_aware(datetime.fromisoformat(v), k)
                for k, v in document.get("watermarks", {}).items()
            },
            processed_through=(
                _require_aware(datetime.fromisoformat(through), "processed_through")
                if through
                else None
            ),
        )


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def apply_model_updated(
    state: ScheduleState,
    model_id: str,
    condition: CalendarCondition | None,
    *,
    active: bool,
    at: datetime,
    grace: timedelta = timedelta(0),
) -> ScheduleState:
    """A model was created, changed or deactivated (model.updated).

    Only an active model with a calendar condition is scheduled; anything else
    removes it. A changed model keeps its watermark (a date already triggered is
    not triggered again). A new model starts at ``at`` (its update time) but
    never before ``processed_through - grace``: the scheduler does not emit slots
    that passed long before it learnt about the model (e.g. when replaying old
    events), while a model it read a little late (a consumer lag under
    ``grace``) still gets the slot that passed meanwhile.
    """
    at = _require_aware(at, "at")
    series = calendar_series(model_id)
    models = dict(state.models)
    watermarks = dict(state.watermarks)
    if not active or condition is None:
        models.pop(model_id, None)
        watermarks.pop(series, None)
    else:
        models[model_id] = condition
        if series not in watermarks and state.processed_through is not None:
            watermarks[series] = max(at, state.processed_through - grace)
    return ScheduleState(models, watermarks, state.processed_through)


def due_slots(
    state: ScheduleState,
    now: datetime,
    calendar: TradingCalendar,
    config: SchedulerConfig,
) -> tuple[list[Slot], ScheduleState]:
    """Every slot with ``watermark < scheduled_at <= now``, in time order, and
    the state with every watermark advanced to ``now``.

    Missed slots (older than ``config.late_after``) are marked late and handled
    by ``config.missed_slot_policy`` (see :class:`MissedSlotPolicy`).
    """
    now = _require_aware(now, "now")
    start = (
        state.processed_through
        if state.processed_through is not None
        else now - config.first_start_backfill
    )

    def lower(series: str) -> datetime:
        return state.watermarks.get(series, start)

    found: list[Slot] = [
        *nightly_slots(lower(SlotKind.NIGHTLY.value), now, calendar, config),
        *drift_sweep_slots(lower(SlotKind.DRIFT_SWEEP.value), now, calendar, config),
    ]
    for model_id, condition in sorted(state.models.items()):
        after = lower(calendar_series(model_id))
        found.extend(calendar_slots(model_id, condition, after, now, calendar, config))

    emitted = _apply_missed_policy(found, now, config)
    series_keys = [*_GLOBAL_SERIES, *(calendar_series(m) for m in state.models)]
    watermarks = {key: max(lower(key), now) for key in series_keys}
    through = now if state.processed_through is None else max(state.processed_through, now)
    return emitted, ScheduleState(dict(state.models), watermarks, through)


def _apply_missed_policy(slots: list[Slot], now: datetime, config: SchedulerConfig) -> list[Slot]:
    def is_late(slot: Slot) -> bool:
        return now - slot.scheduled_at > config.late_after

    marked = [s.marked_late() if is_late(s) else s for s in sorted(slots, key=slot_order)]
    if config.missed_slot_policy is MissedSlotPolicy.RUN_LATE:
        return marked
    last_of_series: dict[str, Slot] = {}
    for slot in marked:
        last_of_series[slot.series] = slot
    latest = {s.slot_id for s in last_of_series.values()}
    return [s for s in marked if not s.late or s.slot_id in latest]
