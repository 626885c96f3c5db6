"""Refusals -> `request.rejected` (docs/design.md §2): the reason code of the rule, a message,
`causation_id` = the refused event's id. Written to the outbox with the step that refused, under
an id derived from the refused event's id, so a redelivery or a re-run publishes the same event
(and the inbox makes it a no-op).

A refused request has ONE direct answer: its rejection. Whatever else the same step publishes
because of it (the decision record of the evaluation, the rest of a settings patch) names the
rejection as its cause, so a client waiting for "the first event caused by my request" reads the
refusal, never a decision record that raced it.
"""

from __future__ import annotations

from collections.abc import Sequence

from rebal_optimizer.domain import Refusal
from rebal_optimizer.service_layer.messages import derived_id
from rebal_schemas import Event, RejectionCode, RequestRejected

# The rules that hold an evaluation and refuse a client's request with `request.rejected`.
REJECTING_RULES = frozenset(
    {
        RejectionCode.PORTFOLIO_INACTIVE,
        RejectionCode.BLOCKED,
        RejectionCode.AWAITING_CLIENT_HOLDINGS,
        RejectionCode.EXTERNAL_OPTIMIZER,
        RejectionCode.OWN_WEIGHTS_WHILE_SUBSCRIBED,
        RejectionCode.MODEL_UNKNOWN,
        RejectionCode.NO_TARGET_WEIGHTS,
        RejectionCode.MODEL_INACTIVE,
        RejectionCode.MODEL_NEEDS_ADJUSTMENT,
        RejectionCode.DAILY_LIMIT,
        RejectionCode.COOLDOWN,
        RejectionCode.IN_BAND,
    }
)


def rejection_id(request_id: str) -> str:
    return derived_id(request_id, "rejected")


def rejected(
    refusal: Refusal,
    *,
    request_id: str,
    request_type: str,
    producer: str,
    correlation_id: str | None = None,
    portfolio_id: str | None = None,
    account_id: str | None = None,
    model_id: str | None = None,
    run_id: str | None = None,
) -> RequestRejected:
    return RequestRejected(
        event_id=rejection_id(request_id),
        reason_code=RejectionCode(refusal.code),
        message=refusal.message[:1024] or refusal.code,
        request_event_type=request_type[:64],
        portfolio_id=portfolio_id,
        account_id=account_id,
        model_id=model_id,
        run_id=run_id,
        causation_id=request_id,
        correlation_id=correlation_id,
        producer=producer,
    )


def rejecting(
    cause: Event, refusal: Refusal, producer: str, **about: str | None
) -> RequestRejected:
    """The rejection of `cause` (an event being handled now)."""
    return rejected(
        refusal,
        request_id=cause.event_id,
        request_type=cause.event_type,
        producer=producer,
        correlation_id=cause.correlation_id,
        **about,
    )


def refused(publish: Sequence[Event], rejection: RequestRejected) -> list[Event]:
    """The rejection first; every other event caused by the refused request now names the
    rejection as its cause."""
    request_id = rejection.causation_id
    recaused = [
        event.model_copy(update={"causation_id": rejection.event_id})
        if event.causation_id == request_id
        else event
        for event in publish
        if event.event_id != rejection.event_id
    ]
    return [rejection, *recaused]
