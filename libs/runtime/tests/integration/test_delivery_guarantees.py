"""docs/design.md §4 proven in the runtime itself, over the real embedded Kafka (Tansu)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer  # type: ignore[import-untyped]

from rebal_runtime.embedded import EmbeddedKafka
from rebal_runtime.outbox import AiokafkaSender, OutboxRelay
from rebal_runtime.store.sqlite import SqliteStore
from rebal_runtime.testing.kafka import TopicReader
from rebal_runtime.testing.pytest_plugin import settings_for, unique
from rebal_runtime.topics_admin import ensure_topics
from rebal_runtime.uow import Change, apply_once
from rebal_schemas import CashDeposited, MessageDeadLettered, OptimizationStatusChanged, encode

from .ledger_service import Ledger

pytestmark = [pytest.mark.kafka]


async def produce(bootstrap: str, topic: str, *values: bytes, key: bytes = b"k") -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value=value, key=key)
    finally:
        await producer.stop()


async def wait_until(predicate, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.05)


def deposit(portfolio: str, amount: str = "10.00", **kw: object) -> CashDeposited:
    return CashDeposited(portfolio_id=portfolio, amount=Decimal(amount), **kw)  # type: ignore[arg-type]


async def test_published_event_is_handled_once_and_its_output_published(
    kafka: EmbeddedKafka, tmp_path: Path
) -> None:
    await ensure_topics(kafka.bootstrap_servers)
    ledger = Ledger(settings_for(kafka.bootstrap_servers, tmp_path, "ledger"))
    portfolio = unique("p")
    event = deposit(portfolio, "12.34")
    async with (
        ledger.runtime.running(),
        TopicReader(kafka.bootstrap_servers, "optimization.created") as out,
    ):
        await produce(
            kafka.bootstrap_servers, "portfolio.patched", encode(event), key=portfolio.encode()
        )
        acks = await out.wait_for(
            lambda evs: any(
                isinstance(e, OptimizationStatusChanged) and e.causation_id == event.event_id
                for e in evs
            )
        )
        assert await ledger.total(portfolio) == (Decimal("12.34"), 1)
        await out.settle(0.5)
        mine = [e for e in out.events() if getattr(e, "causation_id", None) == event.event_id]
        assert len(mine) == 1 and mine[0].portfolio_id == portfolio
        assert acks  # the relay published the outbox entry


async def test_duplicate_event_id_has_no_second_effect(
    kafka: EmbeddedKafka, tmp_path: Path
) -> None:
    await ensure_topics(kafka.bootstrap_servers)
    ledger = Ledger(settings_for(kafka.bootstrap_servers, tmp_path, "ledger"))
    portfolio = unique("p")
    first, second = deposit(portfolio, "5"), deposit(portfolio, "7")
    async with ledger.runtime.running():
        raw = encode(first)
        await produce(
            kafka.bootstrap_servers,
            "portfolio.patched",
            raw,
            raw,
            encode(second),
            raw,
            key=portfolio.encode(),
        )

        async def both_seen() -> bool:
            return (await ledger.total(portfolio))[1] >= 2

        await wait_until(both_seen)
        await asyncio.sleep(0.5)  # let the trailing duplicate be consumed too
        assert await ledger.total(portfolio) == (Decimal("12"), 2)
        assert ledger.runtime.consume.handled >= 4  # all four deliveries were consumed and acked


async def test_handler_failing_before_commit_is_redelivered_and_applied_once(
    kafka: EmbeddedKafka, tmp_path: Path
) -> None:
    await ensure_topics(kafka.bootstrap_servers)
    # consume_retries=0: the failure is not retried in-process; the message must come back from Kafka
    ledger = Ledger(settings_for(kafka.bootstrap_servers, tmp_path, "ledger", consume_retries=0))
    portfolio = unique("p")
    failures = {"left": 2}

    async def flaky(event: CashDeposited) -> None:
        if failures["left"] > 0:
            failures["left"] -= 1
            raise ConnectionError("store unreachable (injected)")

    ledger.before_commit = flaky
    async with ledger.runtime.running():
        await produce(
            kafka.bootstrap_servers,
            "portfolio.patched",
            encode(deposit(portfolio, "3")),
            key=portfolio.encode(),
        )

        async def applied() -> bool:
            return (await ledger.total(portfolio))[1] >= 1

        await wait_until(applied)
        await asyncio.sleep(0.3)
    assert failures["left"] == 0
    assert await _total_after_reopen(tmp_path, portfolio) == (Decimal("3"), 1)


async def test_crash_after_commit_before_ack_redelivers_without_second_effect(
    fresh_kafka: EmbeddedKafka, tmp_path: Path
) -> None:
    """The effect is committed, then the consumer dies before committing the offset: a new
    consumer in the same group re-reads the message and the inbox makes it a no-op."""
    await ensure_topics(fresh_kafka.bootstrap_servers)
    settings = settings_for(
        fresh_kafka.bootstrap_servers, tmp_path, "ledger", graceful_timeout_seconds=1.0
    )
    portfolio = unique("p")
    event = deposit(portfolio, "9")
    crashed = asyncio.Event()

    first = Ledger(settings)

    async def die(e: CashDeposited) -> None:
        crashed.set()
        await asyncio.sleep(3600)  # "crash": hang until cancelled by shutdown, never ack

    first.after_commit = die
    await first.runtime.start()
    await produce(
        fresh_kafka.bootstrap_servers, "portfolio.patched", encode(event), key=portfolio.encode()
    )
    await asyncio.wait_for(crashed.wait(), 30)
    await first.runtime.stop()  # cancels the hanging handler: nothing committed to Kafka
    assert first.effects == 1

    second = Ledger(settings)  # same group, same store file
    async with second.runtime.running():
        await wait_until(lambda: _async_true(second.runtime.consume.handled >= 1))
    assert second.effects == 0  # redelivered, recognised by the inbox
    assert await _total_after_reopen(tmp_path, portfolio) == (Decimal("9"), 1)


async def test_malformed_and_schema_invalid_go_to_dead_letter_and_the_rest_flows(
    kafka: EmbeddedKafka, tmp_path: Path
) -> None:
    await ensure_topics(kafka.bootstrap_servers)
    ledger = Ledger(settings_for(kafka.bootstrap_servers, tmp_path, "ledger"))
    portfolio = unique("p")
    bad_json = b"{not json"
    negative = (
        b'{"event_type":"portfolio.cash_deposited","portfolio_id":"%s","amount":"-5"}'
        % portfolio.encode()
    )
    float_amount = (
        b'{"event_type":"portfolio.cash_deposited","portfolio_id":"%s","amount":5.5}'
        % portfolio.encode()
    )
    unknown_type = b'{"event_type":"portfolio.exploded","portfolio_id":"x"}'
    good = deposit(portfolio, "4")
    async with ledger.runtime.running(), TopicReader(kafka.bootstrap_servers, "dead.letter") as dlq:
        await produce(
            kafka.bootstrap_servers,
            "portfolio.patched",
            bad_json,
            negative,
            float_amount,
            unknown_type,
            encode(good),
            key=portfolio.encode(),
        )

        async def good_applied() -> bool:
            return (await ledger.total(portfolio))[1] == 1

        await wait_until(good_applied)
        group = ledger.runtime.settings.service_name

        # A new group re-reads what other tests left on the shared broker: keep this test's own.
        def mine_of(evs: list[object]) -> list[MessageDeadLettered]:
            return [
                e
                for e in evs
                if isinstance(e, MessageDeadLettered)
                and e.consumer_group == group
                and e.key == portfolio
            ]

        letters = await dlq.wait_for(lambda evs: len(mine_of(evs)) >= 4)
    mine = mine_of(letters)
    import base64

    by_value = {base64.b64decode(e.original_value_b64): e for e in mine}
    assert set(by_value) == {bad_json, negative, float_amount, unknown_type}
    assert (
        by_value[bad_json].error_type == "MalformedMessage"
        and "not valid JSON" in by_value[bad_json].reason
    )
    assert "greater than 0" in by_value[negative].reason
    assert "must be JSON strings" in by_value[float_amount].reason
    assert "portfolio.exploded" in by_value[unknown_type].reason
    assert all(e.original_topic == "portfolio.patched" and e.key == portfolio for e in mine)
    assert await _total_after_reopen(tmp_path, portfolio) == (Decimal("4"), 1)


async def test_outbox_relay_publishes_after_crash_between_commit_and_publish(
    kafka: EmbeddedKafka, tmp_path: Path
) -> None:
    await ensure_topics(kafka.bootstrap_servers)
    settings = settings_for(kafka.bootstrap_servers, tmp_path, "relay")
    path = tmp_path / "relay.sqlite"
    portfolio = unique("p")
    out = OptimizationStatusChanged(
        optimization_id=unique("o"), portfolio_id=portfolio, status="READY"
    )  # type: ignore[arg-type]

    store = SqliteStore(path)
    await store.open()

    async def mutate(doc: object) -> Change:
        return Change({"x": 1}, [out])

    assert await apply_once(store, "docs", portfolio, "cause-1", mutate)
    await store.close()  # the process "crashes" here: committed, never published

    restarted = SqliteStore(path)
    await restarted.open()
    assert [p.message.event_id for p in await restarted.pending_outbox()] == [out.event_id]
    relay = OutboxRelay(restarted, AiokafkaSender(settings), poll_seconds=0.05)
    async with TopicReader(kafka.bootstrap_servers, "optimization.created") as reader:
        await relay.start()
        try:
            events = await reader.wait_for(lambda evs: any(e.event_id == out.event_id for e in evs))
        finally:
            await relay.stop()
    assert next(e for e in events if e.event_id == out.event_id) == out
    assert await restarted.pending_outbox() == []
    await restarted.close()


async def _total_after_reopen(tmp_path: Path, portfolio: str) -> tuple[Decimal, int]:
    store = SqliteStore(tmp_path / "ledger.sqlite")
    await store.open()
    try:
        doc = await store.load("ledgers", portfolio)
        return (Decimal(doc.state["total"]), doc.state["count"]) if doc else (Decimal(0), 0)
    finally:
        await store.close()


async def _async_true(value: bool) -> bool:
    return value


async def test_oversized_message_is_dead_lettered_truncated_and_the_rest_flows(
    fresh_kafka: EmbeddedKafka, tmp_path: Path
) -> None:
    await ensure_topics(fresh_kafka.bootstrap_servers)
    ledger = Ledger(settings_for(fresh_kafka.bootstrap_servers, tmp_path, "ledger"))
    portfolio = unique("p")
    huge = b'{"event_type":"portfolio.cash_deposited","pad":"' + b"x" * 1_200_000 + b'"}'
    producer = AIOKafkaProducer(
        bootstrap_servers=fresh_kafka.bootstrap_servers, acks="all", max_request_size=4_000_000
    )
    await producer.start()
    try:
        await producer.send_and_wait("portfolio.patched", huge, key=portfolio.encode())
        await producer.send_and_wait(
            "portfolio.patched", encode(deposit(portfolio, "2")), key=portfolio.encode()
        )
    finally:
        await producer.stop()
    async with (
        ledger.runtime.running(),
        TopicReader(fresh_kafka.bootstrap_servers, "dead.letter") as dlq,
    ):
        letters = await dlq.wait_for(lambda evs: len(evs) >= 1)

        async def good_applied() -> bool:
            return (await ledger.total(portfolio))[1] == 1

        await wait_until(good_applied)
    letter = letters[0]
    assert letter.error_type == "MalformedMessage" and "exceeds" in letter.reason
    assert letter.truncated and letter.original_size == len(huge)
