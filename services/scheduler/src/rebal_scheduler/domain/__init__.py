"""The scheduler's pure domain: calendar rules, slots and the schedule aggregate.

No I/O, no clock reads: ``now`` and a :class:`TradingCalendar` are passed in.
"""

from rebal_scheduler.domain.calendar_rules import (
    QUARTER_END_MONTHS,
    WEEKDAYS,
    CalendarCondition,
    CalendarSubType,
    InvalidCalendarConditionError,
    rebalance_dates,
)
from rebal_scheduler.domain.config import MissedSlotPolicy, SchedulerConfig
from rebal_scheduler.domain.schedule_state import (
    ScheduleState,
    apply_model_updated,
    calendar_series,
    due_slots,
)
from rebal_scheduler.domain.slots import (
    ALL_SCOPE,
    AllScope,
    ModelScope,
    Scope,
    Slot,
    SlotKind,
    calendar_slots,
    drift_sweep_slots,
    drift_sweep_times,
    model_scope,
    nightly_slots,
    slot_order,
)
from rebal_scheduler.domain.trading_calendar import TradingCalendar, session_on_or_before

__all__ = [
    "ALL_SCOPE",
    "QUARTER_END_MONTHS",
    "WEEKDAYS",
    "AllScope",
    "CalendarCondition",
    "CalendarSubType",
    "InvalidCalendarConditionError",
    "MissedSlotPolicy",
    "ModelScope",
    "ScheduleState",
    "SchedulerConfig",
    "Scope",
    "Slot",
    "SlotKind",
    "TradingCalendar",
    "apply_model_updated",
    "calendar_series",
    "calendar_slots",
    "drift_sweep_slots",
    "drift_sweep_times",
    "due_slots",
    "model_scope",
    "nightly_slots",
    "rebalance_dates",
    "session_on_or_before",
    "slot_order",
]
