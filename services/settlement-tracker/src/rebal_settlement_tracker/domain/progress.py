"""Move a run forward in time: settle what is due, move its status, complete it when every order
is final, settle it when every transaction is, and say when its deadline is (`deadline.py`) and
when the cancels kept for it are refused (`kept_cancel.py`).

Pure (the moment is passed in). Every handler runs `advance` after recording its fact, and the
sweep runs it on its own, so a T+0 trade settles in the same atomic write as its fill, and a T+1
trade settles at the first sweep on its settlement date. What executed after the run ended (its
late transactions, `execution.py`) settles the same way, on its own date. Each status change,
run.completed and run.settled come out of `advance` exactly once: what was reported is part of
the run (`RunLifecycle`), so the next call finds nothing left to report.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, tzinfo

from rebal_settlement_tracker.domain.completion import RunCompletion
from rebal_settlement_tracker.domain.deadline import deadline
from rebal_settlement_tracker.domain.errors import DuplicateStatus, IllegalTransition
from rebal_settlement_tracker.domain.kept_cancel import kept_cancels_due
from rebal_settlement_tracker.domain.lifecycle import RunStatus, StatusChange
from rebal_settlement_tracker.domain.run import Run
from rebal_settlement_tracker.domain.settlement import (
    SettlementCycles,
    TradingCalendar,
    settlement_date,
)
from rebal_settlement_tracker.domain.transaction import Transaction


@dataclass(frozen=True)
class SettlementPolicy:
    """Everything the deployment decides about settling runs (and giving up on them)."""

    calendar: TradingCalendar
    market_timezone: tzinfo  # whose date "today" is: trade dates are the exchange's dates
    cycles: SettlementCycles
    run_timeout: timedelta = timedelta(days=1)  # outcomes unknown this long after the start
    cancel_wait: timedelta = timedelta(days=1)  # a cancel read before its run waits for it so long

    def today(self, now: datetime) -> date:
        return now.astimezone(self.market_timezone).date()


@dataclass(frozen=True)
class Progress:
    run: Run
    settled: tuple[Transaction, ...]  # transaction.settled, each once
    changes: tuple[StatusChange, ...] = ()  # run.created / run.status_changed, in order
    completion: RunCompletion | None = None  # run.completed: every order final
    settlement: RunCompletion | None = None  # run.settled: every transaction final
    next_settlement: date | None = None  # earliest pending settlement date: when to come back
    deadline: datetime | None = None  # when the run times out unless it ends before
    late_settled: tuple[Transaction, ...] = ()  # transaction.settled `late`, each once
    kept_cancels_due: datetime | None = None  # when a cancel kept for the run is refused

    @property
    def changed(self) -> bool:
        reports = (self.completion, self.settlement)
        settled = self.settled or self.late_settled
        return bool(settled or self.changes) or any(r is not None for r in reports)


def settlement_dates(
    run: Run, calendar: TradingCalendar, cycles: SettlementCycles, *, late: bool = False
) -> dict[int, date]:
    """When each settleable, not yet settled transaction settles (to schedule a wake-up); of the
    late transactions if ``late``."""
    transactions: Mapping[int, Transaction] = run.late_transactions if late else run.transactions
    return {
        leg: settlement_date(tx.trade_date, cycles.days_for(tx.asset_class), calendar)
        for leg, tx in transactions.items()
        if tx.is_settleable and tx.trade_date is not None
    }


def settle_due(
    run: Run,
    today: date,
    calendar: TradingCalendar,
    cycles: SettlementCycles,
    *,
    late: bool = False,
) -> tuple[Run, list[Transaction]]:
    """Settle every transaction whose settlement date is on or before ``today`` (the late ones if
    ``late``): the new run and the newly settled transactions (by leg). Completed runs too: a run
    completes at execution."""
    dates = settlement_dates(run, calendar, cycles, late=late)
    due = {leg: day for leg, day in dates.items() if day <= today}
    if not due:
        return run, []
    settled = run.with_settlements(due, late=late)
    transactions = settled.late_transactions if late else settled.transactions
    return settled, [transactions[leg] for leg in sorted(due)]


def move_status(
    run: Run, now: datetime
) -> tuple[Run, tuple[StatusChange, ...], RunCompletion | None]:
    """Every status the facts call for, in the table's order, each reached once: QUEUED once the
    plan is known (at its time), IN_PROGRESS once execution started, the final status once every
    order is final (that completion is returned, once)."""
    if not run.is_planned:
        return run, (), None
    lifecycle = run.lifecycle
    completion = run.completion()
    targets: list[tuple[RunStatus, datetime, str | None]] = [
        (RunStatus.QUEUED, lifecycle.created_at or now, None)
    ]
    if run.started:
        targets.append((RunStatus.IN_PROGRESS, now, None))
    if completion is not None:
        targets.append((completion.status, now, completion.reason))
    changes: list[StatusChange] = []
    for status, at, reason in targets:
        try:
            lifecycle, change = lifecycle.apply(status, at, reason)
        except DuplicateStatus:
            continue
        changes.append(change)
    if completion is not None:
        lifecycle = replace(lifecycle, settled_when_completed=frozenset(run.settlements))
    return replace(run, lifecycle=lifecycle), tuple(changes), completion


def settle_run(run: Run, now: datetime) -> tuple[Run, RunCompletion | None]:
    """A completed run whose every transaction is final settles (once): its final report. Late
    fills (`execution.py`) are not awaited: they are no part of the run as it ended."""
    if not run.is_completed or run.lifecycle.settled_at is not None:
        return run, None
    if not all(tx.is_final for tx in run.transactions.values()):
        return run, None
    return replace(run, lifecycle=run.lifecycle.mark_settled(now)), run.report()


def reported_completion(run: Run) -> RunCompletion:
    """What run.completed said about this completed run, to say it again (the broker may have
    lost it): the same facts, without the settlements that came after it."""
    if not run.is_completed:
        raise IllegalTransition(f"run {run.run_id} has not completed")
    known = run.lifecycle.settled_when_completed
    then = {leg: day for leg, day in run.settlements.items() if leg in known}
    return replace(run, settlements=then).report()


def advance(run: Run, now: datetime, policy: SettlementPolicy) -> Progress:
    """Raises LookupError when a trade date is outside the calendar's range."""
    today, calendar, cycles = policy.today(now), policy.calendar, policy.cycles
    run, settled = settle_due(run, today, calendar, cycles)
    run, late_settled = settle_due(run, today, calendar, cycles, late=True)
    run, changes, completion = move_status(run, now)
    run, settlement = settle_run(run, now)
    pending = [
        *settlement_dates(run, calendar, cycles).values(),
        *settlement_dates(run, calendar, cycles, late=True).values(),
    ]
    return Progress(
        run,
        tuple(settled),
        changes,
        completion,
        settlement,
        next_settlement=min(pending, default=None),
        deadline=deadline(run, policy.run_timeout),
        late_settled=tuple(late_settled),
        kept_cancels_due=kept_cancels_due(run, policy.cancel_wait),
    )
