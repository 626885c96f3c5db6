"""Where an input fill or close came from, and how a refused one becomes a dead letter.

A fact refused as it arrives is dead-lettered by the consume policy (`FactRejectedMessage`, a
PoisonMessage). A fact received before its run's plan is kept and judged only when the plan
arrives, by which time its Kafka record is long committed: so its dead letter is prepared when
it arrives (`Provenance.letter`, the record's original bytes and coordinates) and kept in the run
document until the plan decides; a refused one is then published through the outbox, in the same
atomic write that records the refusal.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rebal_schemas import Event, MessageDeadLettered, PoisonMessage, encode, key_of
from rebal_settlement_tracker.domain import Rejection


class FactRejectedMessage(PoisonMessage):
    """A fill or close that failed the consumer checks (its `error_type` in dead.letter)."""


ERROR_TYPE = FactRejectedMessage.__name__


@dataclass(frozen=True)
class Provenance:
    """Who sent an input: its verified signer (None: unsigned or unverifiable, `signature`
    says why), and the input as a dead letter should it be refused later."""

    signer: str | None = None
    signature: str = "no signature"
    letter: MessageDeadLettered | None = None


def letter_from_event(event: Event, group: str, now: datetime) -> MessageDeadLettered:
    """A dead letter for an event handed over without its Kafka record (a direct call)."""
    value = encode(event)
    digest = hashlib.sha256(f"{group}/{event.TOPIC}/{event.event_id}".encode()).hexdigest()
    return MessageDeadLettered(
        event_id="dl-" + digest[:32],
        producer=group,
        original_topic=event.TOPIC,
        partition=-1,  # no record: the event did not come from Kafka
        offset=-1,
        key=key_of(event).decode(errors="replace"),
        original_value_b64=base64.b64encode(value).decode(),
        original_size=len(value),
        consumer_group=group,
        error_type=ERROR_TYPE,
        reason="",
        failed_at=now,
    )


#: What an early fact's letter keeps of the record while it waits in the run document: a real
#: fill is well under 2 KB, and a run keeps up to MAX_PENDING early facts, so a padded record
#: cannot grow the document past what the store accepts.
EARLY_LETTER_BYTES = 8192
EARLY_LETTER_HEADERS = 16
EARLY_LETTER_HEADER_CHARS = 256


def letter_template(letter: MessageDeadLettered) -> dict[str, Any]:
    """`letter` as JSON to keep in the run document, its record's bytes and headers bounded."""
    value = base64.b64decode(letter.original_value_b64)
    headers = dict(list(letter.original_headers.items())[:EARLY_LETTER_HEADERS])
    kept = letter.model_copy(
        update={
            "original_value_b64": base64.b64encode(value[:EARLY_LETTER_BYTES]).decode(),
            "truncated": letter.truncated or len(value) > EARLY_LETTER_BYTES,
            "original_headers": {
                k[:EARLY_LETTER_HEADER_CHARS]: v[:EARLY_LETTER_HEADER_CHARS]
                for k, v in headers.items()
            },
        }
    )
    return kept.model_dump(mode="json")


def rejection_letter(
    template: dict[str, Any], rejection: Rejection, run_id: str, now: datetime
) -> MessageDeadLettered:
    reason = f"{rejection.code.value}: {rejection.detail}"
    return MessageDeadLettered.model_validate(
        {
            **template,
            "error_type": ERROR_TYPE,
            "reason": reason[:4000],
            "failed_at": now,
            "correlation_id": run_id,
        }
    )
