"""Automatic triggers a rule held back, kept on the portfolio to act on later (docs/design.md §3
"Triggers and evaluation"): never silently dropped.

- The daily limit (one automatic run per trading day) holds a run a deposit, a drift breach, a
  calendar date, ... would have started: it is deferred to the next trading day (`until`); the
  first automatic evaluation on or after that day (the nightly batch, or any earlier trigger)
  evaluates it again with the deferred reasons counting as its own.
- A blocked portfolio holds a calendar slot: it is deferred to the unblock (`until` None); the
  run's outcome that unblocks the portfolio evaluates it, once.

A deferred reason counts as the trigger's own: `calendar` is a met calendar condition (for its
model), `deposit` / `holdings` may be a first funding. Drift is computed again anyway.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from rebal_optimizer.domain.enums import TriggerReason
from rebal_optimizer.domain.trading_days import TradingDays

_LOOKAHEAD = 15  # no market closes this many days in a row


@dataclass(frozen=True, slots=True)
class Deferred:
    reasons: tuple[TriggerReason, ...]  # sorted, each once
    until: date | None  # the trading day it is evaluated again; None: when unblocked
    model_id: str | None = None  # the model of a deferred calendar trigger

    def __post_init__(self) -> None:
        reasons = sorted({TriggerReason(r) for r in self.reasons})
        object.__setattr__(self, "reasons", tuple(reasons))

    def due(self, day: date, *, blocked: bool) -> bool:
        """It acts on an evaluation of `day` (a trading day), or once unblocked."""
        return not blocked if self.until is None else day >= self.until

    @property
    def at_unblock(self) -> bool:
        return self.until is None

    def describe(self) -> str:
        when = "at unblock" if self.until is None else self.until.isoformat()
        return f"{','.join(self.reasons)} {when}"


def defer(
    existing: Deferred | None,
    reasons: Iterable[TriggerReason],
    until: date | None,
    model_id: str | None,
) -> Deferred:
    """`reasons` deferred to `until`, together with what was deferred already."""
    if existing is None:
        return Deferred(tuple(reasons), until, model_id)
    return Deferred((*existing.reasons, *reasons), until, model_id or existing.model_id)


def next_trading_day(day: date, trading_days: TradingDays) -> date:
    """The first trading day after `day`; Monday..Friday beyond the calendar's data."""
    candidate = day
    try:
        for _ in range(_LOOKAHEAD):
            candidate += timedelta(days=1)
            if trading_days.is_session(candidate):
                return candidate
    except LookupError:
        pass
    candidate = day + timedelta(days=1)
    while candidate.weekday() >= 5:
        candidate += timedelta(days=1)
    return candidate
