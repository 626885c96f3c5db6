"""Exactly once without `event_id`, and key discipline (issue #17), in `rebal_runtime.consume`.

An event whose producer sent no `event_id` gets one from its record's coordinates: the same at
every decode, so a redelivery (a failure after the store commit) and the one-at-a-time re-run of a
failed batch both find it in the inbox. A record whose key is not its event's key, or that has no
key, is dead-lettered with the reason. Unit tests of the decoder first, then the real embedded
Kafka (Tansu)."""

from __future__ import annotations

import base64
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from rebal_runtime.consume import (
    MAX_KEPT_KEY,
    coordinates_id,
    dead_letter_for,
    decode_body,
    one_of,
)
from rebal_runtime.embedded import EmbeddedKafka
from rebal_runtime.testing.kafka import TopicReader
from rebal_runtime.testing.pytest_plugin import settings_for, unique
from rebal_runtime.topics_admin import ensure_topics
from rebal_schemas import CashDeposited, KeyMismatch, MessageDeadLettered, encode
from rebal_schemas.topics import PORTFOLIO_PATCHED

from .ledger_service import Ledger
from .test_delivery_guarantees import _total_after_reopen, deposit, produce, wait_until


def without_id(portfolio: str, amount: str) -> bytes:
    """A deposit as a plain Kafka client may send it: no event_id (the README says optional)."""
    return b'{"event_type":"portfolio.cash_deposited","portfolio_id":"%s","amount":"%s"}' % (
        portfolio.encode(),
        amount.encode(),
    )


# -- the decoder, without a broker ---------------------------------------------------------------


def record(value: bytes, offset: int, key: bytes | None = b"pf-1", partition: int = 3) -> Any:
    return SimpleNamespace(
        topic="portfolio.patched",
        partition=partition,
        offset=offset,
        timestamp=1_767_623_520_000,
        key=key,
        value=value,
        headers=(),
    )


def message(*records: Any) -> Any:
    if len(records) == 1:
        return SimpleNamespace(body=records[0].value, raw_message=records[0])
    return SimpleNamespace(
        body=[r.value for r in records],
        raw_message=tuple(records),
        batch_headers=[{} for _ in records],
        headers={},
    )


async def test_an_event_without_id_gets_the_same_id_at_every_decode_of_its_record() -> None:
    first, second = record(without_id("pf-1", "1"), 10), record(without_id("pf-1", "1"), 11)
    alone = await decode_body(message(first))
    again = await decode_body(message(first))
    batch = await decode_body(message(first, second))
    rerun = [await decode_body(one_of(message(first, second), i)) for i in range(2)]
    assert alone["event_id"] == again["event_id"] == batch[0]["event_id"] == rerun[0][0]["event_id"]
    assert (
        alone["event_id"] == coordinates_id(first) == "kafka:portfolio.patched:3:10:1767623520000"
    )
    # Two identical deposits are two records: two events (a content hash would merge them).
    assert batch[1]["event_id"] == rerun[1][0]["event_id"] != batch[0]["event_id"]
    events = [PORTFOLIO_PATCHED.adapter.validate_python(d) for d in (alone, again, *batch)]
    assert len({e.event_id for e in events}) == 2


async def test_an_event_id_sent_by_the_producer_is_kept_and_a_null_one_derived() -> None:
    sent = deposit("pf-1", "1")
    assert (await decode_body(message(record(encode(sent), 5))))["event_id"] == sent.event_id
    null = (
        b'{"event_type":"portfolio.cash_deposited","portfolio_id":"pf-1","amount":"1",'
        b'"event_id":null}'
    )
    assert (await decode_body(message(record(null, 6))))["event_id"].startswith("kafka:")


@pytest.mark.parametrize("key", [b"pf-2", None, b""])
async def test_the_decoder_refuses_a_key_that_is_not_the_events(key: bytes | None) -> None:
    with pytest.raises(KeyMismatch):
        await decode_body(message(record(without_id("pf-1", "1"), 1, key=key)))
    good = record(without_id("pf-1", "2"), 2)
    with pytest.raises(KeyMismatch):  # in a batch too: the batch is then re-run one by one
        await decode_body(message(good, record(without_id("pf-1", "1"), 3, key=key)))
    assert (await decode_body(one_of(message(good, record(b"{}", 3, key=key)), 0)))[0]


def test_a_dead_letter_keeps_a_bounded_key_whatever_the_record_had() -> None:
    huge = record(b"{}", 1, key=b"k" * 900_000)
    huge.headers = (("h", b"v" * 900_000), ("none", None))
    letter = dead_letter_for(message(huge), "group", "KeyMismatch", "why")
    assert letter.key is not None and len(letter.key) == MAX_KEPT_KEY
    assert len(encode(letter)) < 10_000 and letter.original_headers["none"] == ""


# -- over the real embedded Kafka ----------------------------------------------------------------


def _letters(events: list[object], group: str) -> dict[bytes, MessageDeadLettered]:
    return {
        base64.b64decode(e.original_value_b64): e
        for e in events
        if isinstance(e, MessageDeadLettered) and e.consumer_group == group
    }


@pytest.mark.kafka
async def test_deposits_without_event_id_are_applied_once_across_redeliveries(
    kafka: EmbeddedKafka, tmp_path: Path
) -> None:
    """A failure after the store commit (a crash before the offset commit, as a SIGKILL of the
    optimizer mid-batch was) makes Kafka deliver the record again: it must be a no-op."""
    await ensure_topics(kafka.bootstrap_servers)
    # consume_retries=0: no retry in the process; the record comes back from Kafka (seek back)
    ledger = Ledger(settings_for(kafka.bootstrap_servers, tmp_path, "ledger", consume_retries=0))
    portfolio = unique("p")
    failures = {"left": 2}

    async def crash_before_ack(event: CashDeposited) -> None:
        if event.portfolio_id == portfolio and event.amount == Decimal("2") and failures["left"]:
            failures["left"] -= 1
            raise ConnectionError("connection lost after the store commit (injected)")

    ledger.after_commit = crash_before_ack
    async with ledger.runtime.running():
        # The same deposit twice on purpose, then one that is redelivered twice.
        await produce(
            kafka.bootstrap_servers,
            "portfolio.patched",
            without_id(portfolio, "1"),
            without_id(portfolio, "1"),
            without_id(portfolio, "2"),
            key=portfolio.encode(),
        )

        def mine() -> list[CashDeposited]:  # a new group reads the shared broker's older records
            return [e for e in ledger.seen if e.portfolio_id == portfolio]

        async def all_delivered() -> bool:
            return failures["left"] == 0 and len(mine()) >= 5

        await wait_until(all_delivered)
    assert await _total_after_reopen(tmp_path, portfolio) == (Decimal("4"), 3)
    assert len(mine()) == 5  # the two redeliveries were recognised by the inbox
    twos = [e.event_id for e in mine() if e.amount == Decimal("2")]
    assert len(twos) == 3 and len(set(twos)) == 1 and twos[0].startswith("kafka:portfolio.patched:")


@pytest.mark.kafka
async def test_a_failed_batch_re_run_one_at_a_time_applies_each_deposit_without_id_once(
    fresh_kafka: EmbeddedKafka, tmp_path: Path
) -> None:
    # A broker of its own: the three deposits must arrive as one batch, and no other test's
    # message may be in it.
    await ensure_topics(fresh_kafka.bootstrap_servers)
    settings = settings_for(fresh_kafka.bootstrap_servers, tmp_path, "ledger", consume_retries=1)
    portfolio = unique("p")
    cursed = without_id(portfolio, "13")

    async def bug(event: CashDeposited) -> None:
        if event.amount == Decimal("13"):
            raise RuntimeError("unlucky amount (injected bug)")

    # Produced before the consumer starts, so its first poll returns them as one batch. The batch
    # call applies the first deposit, then fails on the second: the re-run one at a time must not
    # apply the first again.
    await produce(
        fresh_kafka.bootstrap_servers,
        "portfolio.patched",
        without_id(portfolio, "1"),
        cursed,
        without_id(portfolio, "2"),
        key=portfolio.encode(),
    )
    ledger = Ledger(settings, batch=True)
    ledger.before_commit = bug
    async with (
        ledger.runtime.running(),
        TopicReader(fresh_kafka.bootstrap_servers, "dead.letter") as dlq,
    ):

        async def others_applied() -> bool:
            return (await ledger.total(portfolio))[1] == 2

        await wait_until(others_applied)
        events = await dlq.wait_for(lambda evs: cursed in _letters(evs, settings.service_name))
    assert ledger.batch_sizes[0] == 3  # it really was one batch, then re-run one by one
    assert await _total_after_reopen(tmp_path, portfolio) == (Decimal("3"), 2)
    assert ledger.effects == 2
    ones = {e.event_id for e in ledger.seen if e.amount == Decimal("1")}
    assert len(ones) == 1 and len([e for e in ledger.seen if e.amount == Decimal("1")]) == 2
    letter = _letters(events, settings.service_name)[cursed]
    assert letter.error_type == "RuntimeError" and "unlucky amount" in letter.reason


@pytest.mark.kafka
async def test_a_record_keyed_otherwise_or_not_keyed_is_dead_lettered_with_the_reason(
    kafka: EmbeddedKafka, tmp_path: Path
) -> None:
    await ensure_topics(kafka.bootstrap_servers)
    ledger = Ledger(settings_for(kafka.bootstrap_servers, tmp_path, "ledger"), batch=True)
    portfolio = unique("p")
    other_key, no_key = without_id(portfolio, "5"), without_id(portfolio, "6")
    good = without_id(portfolio, "7")
    async with ledger.runtime.running(), TopicReader(kafka.bootstrap_servers, "dead.letter") as dlq:
        await produce(kafka.bootstrap_servers, "portfolio.patched", other_key, key=b"someone-else")
        await produce(kafka.bootstrap_servers, "portfolio.patched", no_key, key=None)  # type: ignore[arg-type]
        await produce(kafka.bootstrap_servers, "portfolio.patched", good, key=portfolio.encode())
        group = ledger.runtime.settings.service_name
        events = await dlq.wait_for(lambda evs: {other_key, no_key} <= set(_letters(evs, group)))

        async def good_applied() -> bool:
            return (await ledger.total(portfolio))[1] == 1

        await wait_until(good_applied)
    letters = _letters(events, group)
    assert letters[other_key].error_type == "KeyMismatch"
    assert letters[other_key].key == "someone-else"
    assert (
        f"key 'someone-else' does not match portfolio_id '{portfolio}'" in letters[other_key].reason
    )
    assert letters[no_key].error_type == "KeyMismatch" and letters[no_key].key is None
    assert "message has no key" in letters[no_key].reason
    assert await _total_after_reopen(tmp_path, portfolio) == (Decimal("7"), 1)
