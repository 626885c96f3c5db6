"""The provenance of a consumed record: who verifiably signed it, and its dead letter."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rebal_runtime.consume import dead_letter_for, records_of
from rebal_runtime.signing import verify_record
from rebal_settlement_tracker.service_layer.provenance import ERROR_TYPE, Provenance


def provenance_of(message: Any, trusted: Mapping[str, bytes], group: str) -> Provenance:
    """`message` is FastStream's KafkaMessage of one record (these subscribers do not batch)."""
    record = records_of(message)[0]
    if trusted:
        verdict = verify_record(record, trusted)
        signer, signature = verdict.signer, verdict.problem
    else:
        signer, signature = None, "signatures are not verified"
    # The letter is ready now, with the record's bytes and coordinates, for a fact that can only
    # be judged later (one received before its run's plan); its reason is filled in then.
    letter = dead_letter_for(message, group, ERROR_TYPE, reason="")
    return Provenance(signer, signature, letter)
