"""run.cancel_requested: the answers the tracker gives (it owns runs).

- a run whose plan it has not read yet (no document, or only facts read before the plan): the
  cancel is kept on the run (`domain/kept_cancel.py`) and applied when the plan arrives, as the
  order-router does with its own copy; a cancel still unmatched when its wait is over
  (`SettlementPolicy.cancel_wait`) is refused RUN_UNKNOWN then, by the sweep
  (`expire_step`), once. Beyond `MAX_KEPT_CANCELS` for one run, it is refused at once;
- a known run of another portfolio: request.rejected RUN_UNKNOWN, at once (its plan came: no other
  run of that id will);
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

Every answer is given once. Keeping, applying and refusing a kept cancel are writes of the run's
document, so a plan and the sweep's refusal cannot both take the same cancel. A refusal about a
known run is committed with the run (its inbox holds the request's id); a refusal at once about a
run of another portfolio (or of a run with too many cancels kept) has no run of its own to go
with, so it gets a document of its own (`Refusal`, by request id), looked at first on redelivery;
the decision is taken inside the run's atomic write and nothing is committed there then, so a
crash between the two writes leaves the request undecided, never decided and unanswered.
"""

from __future__ import annotations

from datetime import datetime

from rebal_runtime.log import get_logger
from rebal_runtime.repository import Outcome, Step
from rebal_schemas import PoisonMessage, RejectionCode, RunCancelRequested
from rebal_settlement_tracker.domain import (
    CancelOfFinalRun,
    CancelOfUnknownRun,
    DuplicateCancel,
    DuplicateEvent,
    KeptCancel,
    Run,
    SettlementPolicy,
    advance,
    expire_kept_cancels,
    keep_cancel,
)
from rebal_settlement_tracker.domain.acceptance import PLATFORM
from rebal_settlement_tracker.service_layer.publishing import run_outcome
from rebal_settlement_tracker.service_layer.run_messages import cancel_refused, cancel_rejected
from rebal_settlement_tracker.service_layer.run_records import (
    Refusal,
    RefusalRepository,
    RunRecord,
    RunRepository,
)

log = get_logger(__name__)


class _UnknownRun(Exception):
    """Raised out of the run's write so that nothing is committed there; says why."""


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
        if record is None or not record.run.is_planned:
            return _keep(record, event, now, producer, policy)
        run = record.run
        try:
            requested = run.request_cancel(event.portfolio_id, now, event.event_id)
        except CancelOfUnknownRun as unknown:
            raise _UnknownRun(str(unknown)) from None
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
    except _UnknownRun as unknown:
        message = str(unknown)
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


def _keep(
    record: RunRecord | None,
    event: RunCancelRequested,
    now: datetime,
    producer: str,
    policy: SettlementPolicy,
) -> Outcome[RunRecord] | None:
    """The cancel kept on the run not planned yet: nothing is published now (its answer is the
    run's end, or RUN_UNKNOWN once its wait is over: the index tells the sweep when)."""
    run = record.run if record is not None else Run(event.run_id, event.portfolio_id)
    kept = KeptCancel(event.event_id, event.portfolio_id, event.reason, now)
    try:
        waiting = keep_cancel(run, kept)
    except DuplicateCancel:
        log.info("cancel already kept for the run's plan; no-op", run_id=run.run_id)
        return None
    except CancelOfUnknownRun as full:
        raise _UnknownRun(str(full)) from None
    progress = advance(waiting, now, policy)
    log.info(
        "cancel of a run not planned yet; kept for its plan",
        run_id=run.run_id,
        refused_at=str(kept.due(policy.cancel_wait)),
    )
    envelope = event.caused(producer=producer, correlation_id=run.run_id)
    letters = dict(record.letters) if record is not None else {}
    reports = record.reports if record is not None else {}
    return run_outcome(progress, now, envelope, letters, reports)


def expire_step(now: datetime, policy: SettlementPolicy, producer: str) -> Step[RunRecord]:
    """The sweep's write of a run whose kept cancels' wait is over at `now`: those still unmatched
    are dropped and refused RUN_UNKNOWN, in the same commit (`causation_id`: each request)."""

    def step(record: RunRecord | None) -> Outcome[RunRecord] | None:
        if record is None:
            return None
        run = record.run
        try:
            left, expired = expire_kept_cancels(run, now, policy.cancel_wait)
        except DuplicateEvent:  # the index was behind the document: nothing is due
            return None
        progress = advance(left, now, policy)
        refusals = [
            cancel_refused(
                run.run_id,
                kept.portfolio_id,
                kept.request_id,
                RejectionCode.RUN_UNKNOWN,
                f"no run {run.run_id} for portfolio {kept.portfolio_id} (none came within "
                f"{policy.cancel_wait.total_seconds():g} s of the request)",
                None,
                now,
                producer,
            )
            for kept in expired
        ]
        log.warning(
            "kept cancels refused: their run never came",
            run_id=run.run_id,
            reason_code="RUN_UNKNOWN",
            requests=len(expired),
        )
        envelope = {"producer": producer, "correlation_id": run.run_id}
        letters, reports = dict(record.letters), record.reports
        return run_outcome(progress, now, envelope, letters, reports, answers=refusals)

    return step
