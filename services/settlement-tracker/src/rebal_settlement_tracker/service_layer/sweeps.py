"""The clock-driven side of the handlers: page through the runs an index says are due (a
settlement date reached, a deadline passed) and move each forward in a write of its own.

A run the sweep cannot move (a bug, a document it cannot read or write) is logged, counted and
skipped: it stays due and is tried again next round, and every run after it, and the other sweep
of the round, still move. A store that cannot be reached is no run's fault: the round fails (the
periodic task logs it and tries again) rather than logging the same outage once per run.
"""

from __future__ import annotations

from collections import Counter

from rebal_runtime.log import get_logger
from rebal_runtime.repository import Step
from rebal_runtime.store import StoreUnavailable
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
