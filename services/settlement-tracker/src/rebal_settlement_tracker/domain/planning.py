"""A run's plan (optimization.ready) recorded: `Run.plan` delegates here.

The plan is known once and fixes the run's legs: the same plan again is a no-op, a different one
a contradiction. Facts received before it (`Run.pending`) are judged against it now
(`acceptance.judge_pending`): the accepted ones merge, the refused ones join `rejections` for the
caller to report. Execution reports kept before a plan that says CLIENT are dropped (only the
order-router reports an execution, of PLATFORM runs). Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from rebal_settlement_tracker.domain import execution
from rebal_settlement_tracker.domain.acceptance import AcceptancePolicy, judge_pending
from rebal_settlement_tracker.domain.errors import DuplicatePlan, IllegalTransition, InvalidEvent
from rebal_settlement_tracker.domain.plan import PlannedOrder, RunTerms, SkippedOrder
from rebal_settlement_tracker.domain.transaction import require_aware

if TYPE_CHECKING:
    from rebal_settlement_tracker.domain.run import Run


def planned(
    run: Run,
    orders: Sequence[PlannedOrder],
    skipped: Sequence[SkippedOrder],
    terms: RunTerms,
    created_at: datetime | None,
    policy: AcceptancePolicy,
) -> Run:
    """`run` with its plan, created at `created_at`, and its early facts judged."""
    ordered = tuple(sorted(orders, key=lambda order: order.leg))
    if len({order.leg for order in ordered}) != len(ordered):
        raise InvalidEvent(f"run {run.run_id}: duplicate legs in plan")
    if run.orders is not None:
        if (ordered, tuple(skipped), terms) == (run.orders, run.skipped_orders, run.terms):
            raise DuplicatePlan(f"run {run.run_id}: plan already known")
        raise IllegalTransition(f"run {run.run_id}: a different plan is already known")
    if created_at is not None:
        require_aware(created_at, "created_at")
    # (Fills and closes known before the plan are in `pending`; documents written before early
    # facts were judged kept them merged in `fills` and `closes`: those still count.)
    fills, closes, refused = judge_pending(
        run.run_id, run.pending, ordered, terms.broker_integration, policy, (run.fills, run.closes)
    )
    result = replace(
        run,
        orders=ordered,
        skipped_orders=tuple(skipped),
        terms=terms,
        lifecycle=replace(run.lifecycle, created_at=created_at),
        fills=fills,
        closes=closes,
        pending=(),
        rejections=(*run.rejections, *refused),
    )
    result = execution.without_foreign_execution(result)
    result.transactions  # noqa: B018  derive now so an inconsistency surfaces here
    return result
