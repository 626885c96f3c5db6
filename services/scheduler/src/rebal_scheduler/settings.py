"""The scheduler's settings: the runtime's (prefix ``REBAL_``) plus when to trigger what.

The trading calendar and the market time zone are the runtime's (``REBAL_TRADING_CALENDAR``,
``REBAL_MARKET_TIMEZONE``). Every time of day is wall-clock time in the market time zone
(America/New_York by default), so slots follow daylight saving.
"""

from __future__ import annotations

from datetime import time, timedelta

from pydantic import Field, model_validator

from rebal_runtime.settings import RuntimeSettings
from rebal_scheduler.domain.calendar_rules import QUARTER_END_MONTHS
from rebal_scheduler.domain.config import MissedSlotPolicy, SchedulerConfig


class SchedulerSettings(RuntimeSettings):
    service_name: str = Field(
        "scheduler", description="Consumer group id, `producer` of events, log field."
    )

    calendar_time: time = Field(
        time(9, 35),
        description="When a model's calendar condition fires on its rebalance date; must lie "
        "inside the trading window (an early close pulls it to close - close margin).",
    )
    nightly_enabled: bool = Field(True, description="Emit the nightly batch (scope all).")
    nightly_time: time = Field(
        time(2, 0),
        description="Time of the nightly batch on each trading day's date; the default 02:00 "
        "is the night leading into that session (no batch on weekend or holiday mornings).",
    )
    drift_sweep_enabled: bool = Field(True, description="Emit drift sweeps (scope all).")
    drift_sweep_minutes: int = Field(
        30,
        ge=1,
        description="Drift sweeps every this many minutes from the window start to its end, "
        "on trading days.",
    )
    drift_sweep_seconds: int | None = Field(
        None,
        ge=1,
        description="Test/demo knob: sweep interval in seconds, overriding drift_sweep_minutes "
        "(with the ALWAYS_OPEN calendar a real-clock scheduler shows sweeps within seconds). "
        "Refused under the prod profile.",
    )
    trading_window_start: time = Field(time(9, 30), description="First drift sweep of a session.")
    trading_window_end: time = Field(
        time(15, 30), description="Last drift sweep no later than this (or close - close margin)."
    )
    close_margin_minutes: int = Field(
        30, ge=0, description="Nothing is triggered within this many minutes of a session's close."
    )
    missed_slot_policy: MissedSlotPolicy = Field(
        MissedSlotPolicy.RUN_LATE,
        description="Slots that came due while the scheduler was down: `run_late` emits each "
        "once, marked late; `skip` emits only the most recent one of each series (marked late).",
    )
    late_after_seconds: float = Field(
        300.0, ge=0, description="A slot found more than this long after its time is late (missed)."
    )
    first_start_backfill_minutes: int = Field(
        0,
        ge=0,
        description="On a first start (empty store) also emit the slots of this many past "
        "minutes; 0 starts from now.",
    )
    quarter_months: list[int] = Field(
        default_factory=lambda: sorted(QUARTER_END_MONTHS),
        description="Months a `quarterly` calendar condition rebalances in (JSON list).",
    )
    tick_seconds: float = Field(
        5.0,
        gt=0,
        description="How often the clock loop looks for due slots; a slot is emitted at most "
        "this long after its time (tests use a fraction of a second).",
    )

    @model_validator(mode="after")
    def _consistent(self) -> SchedulerSettings:
        if self.drift_sweep_seconds is not None:
            self.require_dev("REBAL_DRIFT_SWEEP_SECONDS", "sweeps every few seconds")
        self.scheduler_config()  # fail at start, not at the first tick
        return self

    def scheduler_config(self) -> SchedulerConfig:
        every = (
            timedelta(seconds=self.drift_sweep_seconds)
            if self.drift_sweep_seconds is not None
            else timedelta(minutes=self.drift_sweep_minutes)
        )
        return SchedulerConfig(
            calendar_time=self.calendar_time,
            nightly_time=self.nightly_time,
            nightly_enabled=self.nightly_enabled,
            drift_sweep_every=every,
            drift_sweep_enabled=self.drift_sweep_enabled,
            trading_window_start=self.trading_window_start,
            trading_window_end=self.trading_window_end,
            close_margin=timedelta(minutes=self.close_margin_minutes),
            missed_slot_policy=self.missed_slot_policy,
            late_after=timedelta(seconds=self.late_after_seconds),
            first_start_backfill=timedelta(minutes=self.first_start_backfill_minutes),
            quarter_months=frozenset(self.quarter_months),
        )
