"""Slots: the instants at which the scheduler requests a rebalance evaluation.

A slot's ``slot_id`` is a pure function of what it is (kind, scope, trading day
or minute), never of when or by whom it was found, so two scheduler instances,
or one restarted, name the same slot the same way and downstream dedupes on it.
Calendar and nightly ids carry the trading day rather than the time, so moving
``calendar_time`` or ``nightly_time`` does not re-trigger a day already done.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Literal

from rebal_scheduler.domain.calendar_rules import CalendarCondition, rebalance_dates
from rebal_scheduler.domain.config import SchedulerConfig
from rebal_scheduler.domain.trading_calendar import TradingCalendar


class SlotKind(StrEnum):
    """Also the ``reason`` of the rebalance.requested event a slot becomes."""

    CALENDAR = "calendar"
    NIGHTLY = "nightly"
    DRIFT_SWEEP = "drift_sweep"


ModelScope = tuple[Literal["model"], str]
AllScope = tuple[Literal["all"]]
Scope = ModelScope | AllScope
ALL_SCOPE: AllScope = ("all",)


def model_scope(model_id: str) -> ModelScope:
    return ("model", model_id)


@dataclass(frozen=True)
class Slot:
    """One scheduled trigger. ``trading_day`` is the session it belongs to;
    ``late`` says it was found more than ``late_after`` after ``scheduled_at``
    (it is not part of the identity)."""

    kind: SlotKind
    scope: Scope
    scheduled_at: datetime
    trading_day: date
    late: bool = False

    def __post_init__(self) -> None:
        if self.scheduled_at.utcoffset() != timedelta(0):
            raise ValueError("scheduled_at must be an aware UTC datetime")
        expects_model = self.kind is SlotKind.CALENDAR
        if (self.scope[0] == "model") != expects_model:
            raise ValueError(f"{self.kind} slots have scope {'model' if expects_model else 'all'}")

    @property
    def model_id(self) -> str | None:
        return self.scope[1] if self.scope[0] == "model" else None

    @property
    def series(self) -> str:
        """The watermark series: one per model calendar, one nightly, one sweep."""
        return f"calendar:{self.model_id}" if self.kind is SlotKind.CALENDAR else self.kind.value

    @property
    def slot_id(self) -> str:
        if self.kind is SlotKind.DRIFT_SWEEP:
            at = self.scheduled_at.astimezone(UTC)
            # Minute precision for the usual whole-minute sweeps (stable ids); seconds only
            # appear for the sub-minute demo/test intervals.
            return f"drift_sweep:{at:%Y-%m-%dT%H:%M}{f':{at:%S}' if at.second else ''}Z"
        return f"{self.series}:{self.trading_day.isoformat()}"

    def marked_late(self) -> Slot:
        return replace(self, late=True)


def slot_order(slot: Slot) -> tuple[datetime, str]:
    """Deterministic order: by time, ties (many models at 09:35) by id."""
    return (slot.scheduled_at, slot.slot_id)


def _at(calendar: TradingCalendar, day: date, wall_clock: time) -> datetime:
    return datetime.combine(day, wall_clock, tzinfo=calendar.timezone).astimezone(UTC)


def _local_days(calendar: TradingCalendar, after: datetime, until: datetime) -> tuple[date, date]:
    """Local dates spanning ``(after, until]``; a slot's local date is its trading day."""
    tz = calendar.timezone
    return after.astimezone(tz).date(), until.astimezone(tz).date()


def _within(slots: Iterable[Slot], after: datetime, until: datetime) -> list[Slot]:
    return sorted((s for s in slots if after < s.scheduled_at <= until), key=slot_order)


def calendar_slots(
    model_id: str,
    condition: CalendarCondition,
    after: datetime,
    until: datetime,
    calendar: TradingCalendar,
    config: SchedulerConfig,
) -> list[Slot]:
    """Calendar slots of one model with ``after < scheduled_at <= until``."""
    if until <= after:
        return []
    first, last = _local_days(calendar, after, until)
    days = rebalance_dates(condition, first, last, calendar, quarter_months=config.quarter_months)
    scope = model_scope(model_id)
    return _within(
        (
            Slot(
                SlotKind.CALENDAR,
                scope,
                # An early close can end the window before calendar_time.
                min(
                    _at(calendar, day, config.calendar_time),
                    calendar.session_close(day) - config.close_margin,
                ),
                day,
            )
            for day in days
        ),
        after,
        until,
    )


def nightly_slots(
    after: datetime, until: datetime, calendar: TradingCalendar, config: SchedulerConfig
) -> list[Slot]:
    """One nightly batch per trading day at ``nightly_time`` on that day's date."""
    if until <= after or not config.nightly_enabled:
        return []
    first, last = _local_days(calendar, after, until)
    return _within(
        (
            Slot(SlotKind.NIGHTLY, ALL_SCOPE, _at(calendar, day, config.nightly_time), day)
            for day in calendar.sessions_in_range(first, last)
        ),
        after,
        until,
    )


def drift_sweep_times(
    day: date, calendar: TradingCalendar, config: SchedulerConfig
) -> list[datetime]:
    """Sweep instants of session ``day``: every ``drift_sweep_every`` from the
    window start up to and including the (possibly early-close) window end."""
    current = _at(calendar, day, config.trading_window_start)
    window_end = min(
        _at(calendar, day, config.trading_window_end),
        calendar.session_close(day) - config.close_margin,
    )
    times: list[datetime] = []
    while current <= window_end:
        times.append(current)
        current += config.drift_sweep_every
    return times


def drift_sweep_slots(
    after: datetime, until: datetime, calendar: TradingCalendar, config: SchedulerConfig
) -> list[Slot]:
    if until <= after or not config.drift_sweep_enabled:
        return []
    first, last = _local_days(calendar, after, until)
    return _within(
        (
            Slot(SlotKind.DRIFT_SWEEP, ALL_SCOPE, at, day)
            for day in calendar.sessions_in_range(first, last)
            for at in drift_sweep_times(day, calendar, config)
        ),
        after,
        until,
    )
