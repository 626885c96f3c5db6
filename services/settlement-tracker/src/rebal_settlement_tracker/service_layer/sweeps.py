"""The clock-driven side of the handlers: page through the runs an index says are due (a
settlement date reached, a deadline passed, a kept cancel's wait over) and move each forward in a
write of its own (`advance_step`; `cancels.expire_step` for kept cancels).

A run the sweep cannot move (a bug, a document it cannot read or write) is logged, counted and
skipped: it stays due and is tried again next round, and every run after it, and the other sweep
of the round, still move. A store that cannot be reached is no run's fault: the round fails (the
periodic task logs it and tries again) rather than logging the same outage once per run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime

from rebal_runtime.log import get_logger
from rebal_runtime.repository import Outcome, Step
from rebal_runtime.store import StoreUnavailable
from rebal_settlement_tracker.domain import DuplicateEvent, Run, SettlementPolicy, advance
from rebal_settlement_tracker.service_layer.publishing import run_outcome
from rebal_settlement_tracker.service_layer.run_records import RunRecord, RunRepository

log = get_logger(__name__)


async def sweep_due(
    runs: RunRepository,
    index: str,
    bound: str,
    page: int,
    step: Step[RunRecord],
    failures: Counter[str],
) -> int:
    """Run `step` on every run whose `index` value is <= `bound`; how many events it produced.
    `failures[index]` counts the runs it could not move."""
    produced = 0
    after: str | None = None
    while True:
        ids = await runs.query(index, bound, op="le", after_id=after, limit=page)
        for run_id in ids:
            try:
                committed = await runs.update(run_id, None, step)
            except StoreUnavailable:
                raise
            except Exception as error:
                failures[index] += 1
                log.error(
                    "sweep could not move a run; it is tried again next round",
                    run_id=run_id,
                    index=index,
                    error=repr(error)[:500],
                    failures=failures[index],
                )
                continue
            produced += len(committed.publish) if committed is not None else 0
        if len(ids) < page:
            return produced
        after = ids[-1]


def advance_step(
    now: datetime,
    policy: SettlementPolicy,
    producer: str,
    command: Callable[[Run], Run] | None = None,
) -> Step[RunRecord]:
    """The sweep's write of one due run: `command` (a timeout) if any, then `advance` to `now`;
    nothing when nothing is due after all (the index was behind the document)."""

    def step(record: RunRecord | None) -> Outcome[RunRecord] | None:
        if record is None:
            return None
        run = record.run
        try:
            progress = advance(command(run) if command else run, now, policy)
        except DuplicateEvent:  # the index was behind the document: nothing is due
            return None
        except LookupError as error:  # a trade date beyond the loaded calendar
            log.error("cannot settle run", run_id=run.run_id, error=str(error))
            return None
        if not progress.changed:
            return None
        envelope = {"producer": producer, "correlation_id": run.run_id}
        return run_outcome(progress, now, envelope, dict(record.letters), record.reports)

    return step
