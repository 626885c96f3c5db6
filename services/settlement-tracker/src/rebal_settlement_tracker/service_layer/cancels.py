"""run.cancel_requested: the answers the tracker gives (it owns runs).

- a run it does not know (no plan, or another portfolio's): request.rejected RUN_UNKNOWN, at once
  (no grace for a plan still on its way);
- a run that reached its final status: request.rejected RUN_FINAL (unless that status was this
  request's doing: the order-router's stop, naming it, was read first);
- a CLIENT run (no order-router involved; the client's middleware executes): it ends at once,
  CANCELED if nothing executed, else CANCELED_MID_RUN; its unreported legs are CANCELLED and a
  later fill is still recorded (`domain/execution.py`). The status change names the request;
- a PLATFORM run: the request is recorded on the run (`cancel_requested_at`, and its event id) and
  logged; stopping the execution is the order-router's, whose run.execution_stopped (naming the
  request) then ends the run. If the run ends otherwise (the router found every order final and
  stopped nothing, or the deadline came first), the request is refused RUN_FINAL at that end
  (`publishing.py`), so every request gets its answer.

Every answer is given once. A refusal about a known run is committed with the run (its inbox
holds the request's id); a refusal about an unknown run has no run to go with, so it gets a
document of its own (`Refusal`, by request id), looked at first on redelivery; the decision is
taken inside the run's atomic write and nothing is committed there when the run is unknown, so a
crash between the two writes leaves the request undecided, never decided and unanswered.
"""

from __future__ import annotations

from datetime import datetime

from rebal_runtime.log import get_logger
from rebal_runtime.repository import Outcome
from rebal_schemas import PoisonMessage, RejectionCode, RunCancelRequested
from rebal_settlement_tracker.domain import (
    CancelOfFinalRun,
    CancelOfUnknownRun,
    DuplicateCancel,
    Run,
    SettlementPolicy,
    advance,
)
from rebal_settlement_tracker.domain.acceptance import PLATFORM
from rebal_settlement_tracker.service_layer.publishing import run_outcome
from rebal_settlement_tracker.service_layer.run_messages import cancel_rejected
from rebal_settlement_tracker.service_layer.run_records import (
    Refusal,
    RefusalRepository,
    RunRecord,
    RunRepository,
)

log = get_logger(__name__)


class _UnknownRun(Exception):
    """Raised out of the run's write so that nothing is committed there."""


async def answer_cancel(
    runs: RunRepository,
    refusals: RefusalRepository,
    event: RunCancelRequested,
    now: datetime,
    producer: str,
    policy: SettlementPolicy,
) -> bool:
    """False when the request was answered before."""
    if await refusals.load(event.event_id) is not None:
        return False

    def decide(record: RunRecord | None) -> Outcome[RunRecord] | None:
        if record is None:
            raise _UnknownRun
        run = record.run
        try:
            requested = run.request_cancel(event.portfolio_id, now, event.event_id)
        except CancelOfUnknownRun:
            raise _UnknownRun from None
        except CancelOfFinalRun as final:
            if run.stop is not None and run.stop.cause == event.event_id:
                log.info("cancel already answered by the run's end", run_id=run.run_id)
                return None
            refusal = cancel_rejected(
                event, RejectionCode.RUN_FINAL, str(final), run.terms.account_id, now, producer
            )
            log.info("cancel refused", run_id=run.run_id, reason_code="RUN_FINAL")
            return Outcome(record, publish=[refusal])
        except DuplicateCancel:
            log.info("cancel already requested; no-op", run_id=run.run_id)
            return None
        if requested.terms.broker_integration != PLATFORM:
            return _cancel_client_run(record, requested, event, now, producer, policy)
        log.warning(
            "run cancel requested; left to the order-router",
            run_id=run.run_id,
            status=run.status.value,
            reason=event.reason[:200],
        )
        return Outcome(RunRecord(requested, record.letters, record.reports))

    try:
        return await runs.apply(event.run_id, event.event_id, decide)
    except _UnknownRun:
        pass
    message = f"no run {event.run_id} for portfolio {event.portfolio_id}"
    refusal = cancel_rejected(event, RejectionCode.RUN_UNKNOWN, message, None, now, producer)

    def refuse(known: Refusal | None) -> Outcome[Refusal] | None:
        if known is not None:
            return None
        code = RejectionCode.RUN_UNKNOWN.value
        return Outcome(
            Refusal(event.event_id, event.run_id, event.portfolio_id, code), publish=[refusal]
        )

    log.info("cancel refused", run_id=event.run_id, reason_code="RUN_UNKNOWN")
    return await refusals.apply(event.event_id, event.event_id, refuse)


def _cancel_client_run(
    record: RunRecord,
    requested: Run,
    event: RunCancelRequested,
    now: datetime,
    producer: str,
    policy: SettlementPolicy,
) -> Outcome[RunRecord]:
    """A CLIENT run ends at once; its status change, run.completed and run.settled (if every
    transaction is final) commit with the request."""
    canceled = requested.cancel(now, event.reason, cause=event.event_id)
    try:
        progress = advance(canceled, now, policy)
    except LookupError as error:  # a trade date beyond the loaded calendar
        raise PoisonMessage(f"{event.event_type} {event.event_id}: {error}") from error
    log.warning("CLIENT run canceled", run_id=requested.run_id, status=progress.run.status.value)
    envelope = event.caused(producer=producer, correlation_id=requested.run_id)
    return run_outcome(progress, now, envelope, dict(record.letters), record.reports)
