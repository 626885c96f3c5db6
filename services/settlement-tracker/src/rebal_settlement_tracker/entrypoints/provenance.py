"""The provenance of consumed records: who verifiably signed each, and its dead letter."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rebal_runtime.consume import handled_records, record_dead_letter
from rebal_runtime.signing import verify_record
from rebal_settlement_tracker.service_layer.provenance import ERROR_TYPE, Provenance


def provenance_of(record: Any, trusted: Mapping[str, bytes], group: str) -> Provenance:
    """`record`: the Kafka record (aiokafka's ConsumerRecord) an event was decoded from."""
    if trusted:
        verdict = verify_record(record, trusted)
        signer, signature = verdict.signer, verdict.problem
    else:
        signer, signature = None, "signatures are not verified"
    # The letter is ready now, with the record's bytes and coordinates, for a fact that can only
    # be judged later (one received before its run's plan); its reason is filled in then.
    letter = record_dead_letter(record, group, ERROR_TYPE, reason="")
    return Provenance(signer, signature, letter)


def handled_provenances(
    events: Sequence[object],
    trusted: Mapping[str, bytes],
    group: str,
    *,
    unsigned: tuple[type, ...] = (),
) -> list[Provenance | None]:
    """The provenance of each of the `events` the running batch handler was given, read from
    the records the consume policy handed it (`handled_records`), in the same order; none for
    an event of an `unsigned` type (its fact needs no signer)."""
    records = handled_records()
    if len(records) != len(events):  # not called by the consume policy (a test calling it)
        return [None] * len(events)
    return [
        None if isinstance(event, unsigned) else provenance_of(record, trusted, group)
        for event, record in zip(events, records, strict=True)
    ]
