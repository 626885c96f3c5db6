"""A run's progress -> what its document commits: the new record, the events to publish (through
the outbox, in the same atomic write), and the index values the sweep and the re-report find it by.

The order of the events is the order things happened: the run created and started, transactions
settled (T+0, then any late ones), the final status with run.completed, run.settled. The final
status change of a run whose stop names a cause (a cancel request) names that cause, so the client
that asked finds its answer (`rebal cancel --wait`); a cancel request recorded on the run that its
end did not answer (`domain.unanswered_cancel`) is refused then, RUN_FINAL, as one that came after
the end would be. Refusals of cancels decided with the write (`answers`: kept cancels whose run
never came) come last; the index says when the next kept cancel is due for that.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from rebal_runtime.log import get_logger
from rebal_runtime.repository import Outcome
from rebal_schemas import Event, RejectionCode
from rebal_settlement_tracker.domain import Progress, Rejection, unanswered_cancel
from rebal_settlement_tracker.service_layer import messages, run_messages
from rebal_settlement_tracker.service_layer.messages import RUN_COMPLETED, RUN_SETTLED
from rebal_settlement_tracker.service_layer.provenance import rejection_letter
from rebal_settlement_tracker.service_layer.run_records import (
    COMPLETED_DAY_INDEX,
    KEPT_CANCEL_DUE_INDEX,
    SETTLE_DUE_INDEX,
    SETTLED_DAY_INDEX,
    TIMEOUT_DUE_INDEX,
    Letters,
    Reports,
    RunRecord,
    instant_key,
)

log = get_logger(__name__)


def run_outcome(
    progress: Progress,
    now: datetime,
    envelope: dict[str, Any],
    letters: Letters,
    reports: Reports,
    refused: Sequence[Rejection] = (),
    answers: Sequence[Event] = (),
) -> Outcome[RunRecord]:
    """`answers`: the request.rejected of cancels refused with this write, published last."""
    run = progress.run
    publish: list[Event] = []
    if run.is_planned:
        # The plan judged the early facts: publish the refused ones' letters, drop the rest.
        for rejection in refused:
            template = letters.get(rejection.event_id or "")
            if template is None:  # only a document written before letters were kept
                log.warning("refused early fact has no letter", event_id=rejection.event_id)
                continue
            publish.append(rejection_letter(template, rejection, run.run_id, now))
        letters = {}
    started = [c for c in progress.changes if not c.status.is_final]
    ended = [c for c in progress.changes if c.status.is_final]
    publish += [run_messages.status_changed(run, change, envelope) for change in started]
    publish += [messages.transaction_settled(run, tx, now, envelope) for tx in progress.settled]
    publish += [
        messages.transaction_settled(run, tx, now, envelope, late=True)
        for tx in progress.late_settled
    ]
    cause = run.stop.cause if run.stop is not None else None
    final_envelope = envelope if cause is None else {**envelope, "causation_id": cause}
    publish += [run_messages.status_changed(run, change, final_envelope) for change in ended]
    reports = dict(reports)
    if progress.completion is not None:
        completed = run_messages.run_completed(run, progress.completion, envelope)
        publish.append(completed)
        reports[RUN_COMPLETED] = _report(completed, completed.completed_at)
        log.info("run completed", run_id=run.run_id, status=completed.status.value)
        publish += _answer_cancel(progress, now, envelope)
    if progress.settlement is not None:
        settled = run_messages.run_settled(run, progress.settlement, envelope)
        publish.append(settled)
        reports[RUN_SETTLED] = _report(settled, settled.settled_at)
        log.info("run settled", run_id=run.run_id)
    publish += answers
    due, deadline, cancels_due = (
        progress.next_settlement,
        progress.deadline,
        progress.kept_cancels_due,
    )
    return Outcome(
        RunRecord(run, letters, reports),
        publish=publish,
        index={
            SETTLE_DUE_INDEX: due.isoformat() if due else None,
            COMPLETED_DAY_INDEX: report_day(reports, RUN_COMPLETED),
            SETTLED_DAY_INDEX: report_day(reports, RUN_SETTLED),
            TIMEOUT_DUE_INDEX: instant_key(deadline) if deadline else None,
            KEPT_CANCEL_DUE_INDEX: instant_key(cancels_due) if cancels_due else None,
        },
    )


def _answer_cancel(progress: Progress, now: datetime, envelope: dict[str, Any]) -> list[Event]:
    """The refusal of the cancel request the run's end did not answer, at that end."""
    run = progress.run
    request = unanswered_cancel(run)
    if request is None:
        return []
    log.info("cancel refused at the run's end", run_id=run.run_id, reason_code="RUN_FINAL")
    message = f"run {run.run_id} ended {run.status.value} before the cancel took effect"
    refusal = run_messages.cancel_refused(
        run.run_id,
        run.portfolio_id,
        request,
        RejectionCode.RUN_FINAL,
        message,
        run.terms.account_id,
        now,
        envelope["producer"],
    )
    return [refusal]


def _report(event: Event, at: datetime | None) -> dict[str, Any]:
    assert at is not None  # run.completed and run.settled always say when
    return {"event_id": event.event_id, "causation_id": event.causation_id, "at": at.isoformat()}


def report_day(reports: Reports, kind: str) -> str | None:
    """The UTC date `kind` was published on (what the re-report looks runs up by)."""
    report = reports.get(kind)
    if not report:
        return None
    return datetime.fromisoformat(report["at"]).astimezone(UTC).date().isoformat()
