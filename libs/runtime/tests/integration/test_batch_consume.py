"""Batch subscribers keep docs/design.md §4 per message, over the real embedded Kafka (Tansu): one bad
message in a batch is dead-lettered alone, the rest is applied once, the batch is committed once."""

from __future__ import annotations

import base64
from decimal import Decimal
from pathlib import Path

import pytest

from rebal_runtime.embedded import EmbeddedKafka
from rebal_runtime.testing.kafka import TopicReader
from rebal_runtime.testing.pytest_plugin import settings_for, unique
from rebal_runtime.topics_admin import ensure_topics
from rebal_schemas import CashDeposited, MessageDeadLettered, encode

from .ledger_service import Ledger
from .test_delivery_guarantees import _total_after_reopen, deposit, produce, wait_until

pytestmark = [pytest.mark.kafka]


def _letters(events: list[object], group: str, key: str) -> list[MessageDeadLettered]:
    """Dead letters of this test's group and portfolio (a new group also re-reads the bad
    messages other tests left on the shared broker)."""
    return [
        e
        for e in events
        if isinstance(e, MessageDeadLettered) and e.consumer_group == group and e.key == key
    ]


async def test_bad_messages_inside_a_batch_are_dead_lettered_alone_and_committed(
    kafka: EmbeddedKafka, tmp_path: Path
) -> None:
    await ensure_topics(kafka.bootstrap_servers)
    settings = settings_for(kafka.bootstrap_servers, tmp_path, "ledger")
    portfolio = unique("p")
    bad_json = b"{not json"
    negative = (
        b'{"event_type":"portfolio.cash_deposited","portfolio_id":"%s","amount":"-5"}'
        % portfolio.encode()
    )
    goods = [deposit(portfolio, amount) for amount in ("1", "2", "4")]
    # Produced before the consumer starts, so its first poll returns them as one batch.
    await produce(
        kafka.bootstrap_servers,
        "portfolio.patched",
        encode(goods[0]),
        bad_json,
        encode(goods[1]),
        negative,
        encode(goods[2]),
        key=portfolio.encode(),
    )
    ledger = Ledger(settings, batch=True)
    async with ledger.runtime.running(), TopicReader(kafka.bootstrap_servers, "dead.letter") as dlq:

        async def all_good_applied() -> bool:
            return (await ledger.total(portfolio))[1] == 3

        await wait_until(all_good_applied)
        events = await dlq.wait_for(
            lambda evs: len(_letters(evs, settings.service_name, portfolio)) >= 2
        )
    letters = _letters(events, settings.service_name, portfolio)
    by_value = {base64.b64decode(e.original_value_b64): e for e in letters}
    assert set(by_value) == {bad_json, negative}
    assert by_value[bad_json].error_type == "MalformedMessage"
    assert "greater than 0" in by_value[negative].reason
    assert await _total_after_reopen(tmp_path, portfolio) == (Decimal("7"), 3)

    # Committed: a restarted consumer of the same group reads only what came after.
    restarted = Ledger(settings, batch=True)
    sentinel = deposit(portfolio, "8")
    async with restarted.runtime.running():
        await produce(
            kafka.bootstrap_servers, "portfolio.patched", encode(sentinel), key=portfolio.encode()
        )

        async def sentinel_applied() -> bool:
            return (await restarted.total(portfolio))[1] == 4

        await wait_until(sentinel_applied)
    assert restarted.runtime.consume.dead_lettered == 0
    assert restarted.effects == 1


async def test_a_handler_bug_on_one_message_dead_letters_it_and_the_batch_flows(
    kafka: EmbeddedKafka, tmp_path: Path
) -> None:
    await ensure_topics(kafka.bootstrap_servers)
    settings = settings_for(kafka.bootstrap_servers, tmp_path, "ledger", consume_retries=1)
    portfolio = unique("p")
    cursed = deposit(portfolio, "13")

    async def bug(event: CashDeposited) -> None:
        if event.event_id == cursed.event_id:
            raise RuntimeError("unlucky amount (injected bug)")

    await produce(
        kafka.bootstrap_servers,
        "portfolio.patched",
        encode(deposit(portfolio, "1")),
        encode(cursed),
        encode(deposit(portfolio, "2")),
        key=portfolio.encode(),
    )
    ledger = Ledger(settings, batch=True)
    ledger.before_commit = bug
    async with ledger.runtime.running(), TopicReader(kafka.bootstrap_servers, "dead.letter") as dlq:

        async def others_applied() -> bool:
            return (await ledger.total(portfolio))[1] == 2

        await wait_until(others_applied)
        events = await dlq.wait_for(
            lambda evs: len(_letters(evs, settings.service_name, portfolio)) >= 1
        )
    letters = _letters(events, settings.service_name, portfolio)
    assert [base64.b64decode(e.original_value_b64) for e in letters] == [encode(cursed)]
    assert letters[0].error_type == "RuntimeError" and "unlucky amount" in letters[0].reason
    assert await _total_after_reopen(tmp_path, portfolio) == (Decimal("3"), 2)


async def test_a_transient_failure_retries_the_batch_and_applies_each_message_once(
    fresh_kafka: EmbeddedKafka, tmp_path: Path
) -> None:
    # A broker of its own: no other test's bad message may split this batch.
    await ensure_topics(fresh_kafka.bootstrap_servers)
    settings = settings_for(fresh_kafka.bootstrap_servers, tmp_path, "ledger", consume_retries=0)
    portfolio = unique("p")
    failures = {"left": 2}

    async def flaky(event: CashDeposited) -> None:
        # Fails on the SECOND deposit: the first one of the batch is already committed.
        if event.amount == Decimal("2") and failures["left"] > 0:
            failures["left"] -= 1
            raise ConnectionError("store unreachable (injected)")

    await produce(
        fresh_kafka.bootstrap_servers,
        "portfolio.patched",
        *(encode(deposit(portfolio, a)) for a in ("1", "2", "4")),
        key=portfolio.encode(),
    )
    ledger = Ledger(settings, batch=True)
    ledger.before_commit = flaky
    async with ledger.runtime.running():

        async def all_applied() -> bool:
            return (await ledger.total(portfolio))[1] == 3

        await wait_until(all_applied)
    assert max(ledger.batch_sizes) > 1  # it really was consumed in batches
    assert failures["left"] == 0  # nacked and re-read from Kafka, twice
    assert ledger.effects == 3  # the re-read first deposit was recognised by the inbox
    assert await _total_after_reopen(tmp_path, portfolio) == (Decimal("7"), 3)


async def test_a_batch_consumer_polls_again_only_once_its_batch_is_published(
    kafka: EmbeddedKafka, tmp_path: Path
) -> None:
    """A handler that never suspends would starve the relay on its loop: the service makes each
    batch wait until what it committed has left (the relay caught up) before the next poll."""
    await ensure_topics(kafka.bootstrap_servers)
    settings = settings_for(kafka.bootstrap_servers, tmp_path, "ledger")
    portfolio = unique("p")
    deposits = [deposit(portfolio, "1") for _ in range(6)]
    await produce(
        kafka.bootstrap_servers,
        "portfolio.patched",
        *(encode(d) for d in deposits),
        key=portfolio.encode(),
    )
    ledger = Ledger(settings, batch=True)
    caught_up = ledger.runtime.consume.after_batch
    assert caught_up is not None
    left_in_outbox: list[int] = []

    async def recording() -> None:
        await caught_up()
        left_in_outbox.append(len(await ledger.runtime.store.pending_outbox()))

    ledger.runtime.consume.after_batch = recording
    async with ledger.runtime.running():

        async def all_applied() -> bool:
            return (await ledger.total(portfolio))[1] == len(deposits)

        await wait_until(all_applied)
    assert left_in_outbox, "no batch of more than one message was read"
    assert set(left_in_outbox) == {0}
