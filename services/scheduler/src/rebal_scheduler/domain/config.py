"""Scheduler settings the pure domain needs (the service's pydantic settings map onto it).

Every time of day is wall-clock time in the trading calendar's timezone
(``TradingCalendar.timezone``, America/New_York for XNYS), so slots follow DST.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time, timedelta
from enum import StrEnum

from rebal_scheduler.domain.calendar_rules import QUARTER_END_MONTHS


class MissedSlotPolicy(StrEnum):
    """What to do with slots that came due while the scheduler was down.

    A slot is *missed* (and emitted with ``late=True``) when it is more than
    ``SchedulerConfig.late_after`` old at the time it is found.

    - ``run_late``: emit every missed slot once, in order.
    - ``skip``: drop missed slots, except the most recent slot of each series
      (one model's calendar, the nightly batch, the drift sweep), which is still
      emitted, marked late. Every evaluation reads the portfolio's state at the
      time it runs, so the latest missed slot carries everything the older ones
      would have: dropping it too would leave e.g. a quarterly model without its
      rebalance for a whole quarter after a short outage, while running the
      older ones would only repeat the same evaluation.
    """

    RUN_LATE = "run_late"
    SKIP = "skip"


@dataclass(frozen=True)
class SchedulerConfig:
    """Defaults follow docs/design.md §3.

    ``calendar_time``: when a model's calendar rebalance fires on its rebalance
    date; must lie in the trading window (a run needs an open market). On an
    early-close day it is pulled forward to ``close - close_margin`` if later.

    ``nightly_time``: the nightly batch runs once per trading day D at this time
    on D's date. With the default 02:00 that is the night leading into D's
    session: there is no nightly on weekend or holiday mornings, because the
    batch prepares orders for the coming session and a batch with no session
    ahead would only price on stale data and then wait (and the optimizer allows
    one automatic optimization per trading day anyway). An evening time (e.g.
    22:00) instead runs after each session's close.

    ``drift_sweep_every``: sweeps at ``trading_window_start + k * every`` up to
    and including the window end, on trading days. The window ends at
    ``trading_window_end`` or at ``session close - close_margin``, whichever is
    earlier (13:00 early close -> last sweep 12:30).

    ``first_start_backfill``: on a first start (no watermark) the scheduler
    begins at ``now - first_start_backfill``; zero means no backfill.
    """

    calendar_time: time = time(9, 35)
    nightly_time: time = time(2, 0)
    nightly_enabled: bool = True
    drift_sweep_every: timedelta = timedelta(minutes=30)
    drift_sweep_enabled: bool = True
    trading_window_start: time = time(9, 30)
    trading_window_end: time = time(15, 30)
    close_margin: timedelta = timedelta(minutes=30)
    missed_slot_policy: MissedSlotPolicy = MissedSlotPolicy.RUN_LATE
    late_after: timedelta = timedelta(minutes=5)
    first_start_backfill: timedelta = timedelta(0)
    quarter_months: frozenset[int] = QUARTER_END_MONTHS

    def __post_init__(self) -> None:
        for name in ("calendar_time", "nightly_time", "trading_window_start", "trading_window_end"):
            if getattr(self, name).tzinfo is not None:
                raise ValueError(f"{name} is a wall-clock time in the exchange timezone")
        if not self.trading_window_start < self.trading_window_end:
            raise ValueError("trading_window_start must be before trading_window_end")
        if not self.trading_window_start <= self.calendar_time <= self.trading_window_end:
            raise ValueError("calendar_time must lie inside the trading window")
        # Sweep slot ids are second-precise, so sweeps must fall on whole seconds. Production
        # uses whole minutes; sub-minute intervals exist for demos and real-time tests.
        if self.drift_sweep_every <= timedelta(0) or self.drift_sweep_every % timedelta(seconds=1):
            raise ValueError("drift_sweep_every must be a positive whole number of seconds")
        if self.trading_window_start.microsecond:
            raise ValueError("trading_window_start must be a whole second (it anchors sweep ids)")
        if self.close_margin < timedelta(0) or self.late_after < timedelta(0):
            raise ValueError("close_margin and late_after must not be negative")
        if self.first_start_backfill < timedelta(0):
            raise ValueError("first_start_backfill must not be negative")
        if not self.quarter_months or not self.quarter_months <= frozenset(range(1, 13)):
            raise ValueError("quarter_months must be a non-empty set of months 1..12")
