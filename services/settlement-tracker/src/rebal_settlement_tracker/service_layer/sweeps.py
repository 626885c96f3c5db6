"""The clock-driven side of the handlers: page through the runs an index says are due (a
settlement date reached, a deadline passed) and move each forward in a write of its own."""

from __future__ import annotations

from rebal_runtime.repository import Step
from rebal_settlement_tracker.service_layer.run_records import RunRecord, RunRepository


async def sweep_due(
    runs: RunRepository, index: str, bound: str, page: int, step: Step[RunRecord]
) -> int:
    """Run `step` on every run whose `index` value is <= `bound`; how many events it produced."""
    produced = 0
    after: str | None = None
    while True:
        ids = await runs.query(index, bound, op="le", after_id=after, limit=page)
        for run_id in ids:
            committed = await runs.update(run_id, None, step)
            produced += len(committed.publish) if committed is not None else 0
        if len(ids) < page:
            return produced
        after = ids[-1]
