"""Move a run forward in time: settle what is due, then complete it if everything is final.

Pure (the moment is passed in). Every handler runs this after recording its fact, and the sweep
runs it on its own, so a T+0 trade settles in the same atomic write as its fill, and a T+1 trade
settles at the first sweep on its settlement date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, tzinfo

from rebal_settlement_tracker.domain.completion import RunCompletion
from rebal_settlement_tracker.domain.run import Run
from rebal_settlement_tracker.domain.settlement import SettlementCycles, TradingCalendar
from rebal_settlement_tracker.domain.transaction import Transaction, UnblockOn


@dataclass(frozen=True)
class SettlementPolicy:
    """Everything the deployment decides about settlement."""

    calendar: TradingCalendar
    market_timezone: tzinfo  # whose date "today" is: trade dates are the exchange's dates
    cycles: SettlementCycles
    unblock_on: UnblockOn = UnblockOn.SETTLED

    def today(self, now: datetime) -> date:
        return now.astimezone(self.market_timezone).date()


@dataclass(frozen=True)
class Progress:
    run: Run
    settled: tuple[Transaction, ...]
    completion: RunCompletion | None
    next_settlement: date | None  # earliest pending settlement date: when the sweep comes back

    @property
    def changed(self) -> bool:
        return bool(self.settled) or self.completion is not None


def advance(run: Run, now: datetime, policy: SettlementPolicy) -> Progress:
    """Raises LookupError when a trade date is outside the calendar's range."""
    settled_run, settled = run.settle_due(policy.today(now), policy.calendar, policy.cycles)
    completed_run, completion = settled_run.complete(policy.unblock_on)
    pending = completed_run.settlement_dates(policy.calendar, policy.cycles).values()
    return Progress(completed_run, tuple(settled), completion, min(pending, default=None))
