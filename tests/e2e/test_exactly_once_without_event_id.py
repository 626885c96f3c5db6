"""Exactly once without `event_id`, across a SIGKILL of the optimizer process (issue #17).

The finding this guards: deposits sent by a plain Kafka client without `event_id` got a new id at
every decode, so after a SIGKILL of the optimizer mid-batch every redelivered deposit was applied
again (50 of 50 portfolios held 2.00 after one 1.00 deposit). Here the optimizer is killed while it
works through 50 such deposits, and the group's committed offsets are then put back to before the
first deposit, so that every deposit is delivered again whatever the kill interrupted (a crash
between the store commit and the offset commit, or an operator replaying the topic). The ids the
consumer derives from the records' coordinates make every redelivery a duplicate: 0 doubled."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from rebal_demo.__main__ import DEMO_ENVIRONMENT

from rebal_client.kafka import Publisher, wait_until_consumed
from rebal_runtime.stack import Stack
from rebal_runtime.store.sqlite import SqliteStore
from rebal_runtime.testing.pytest_plugin import broker_kind, stack_kafka
from rebal_runtime.topics_admin import ensure_topics
from rebal_schemas import PortfolioSettingsChanged
from rebal_schemas.topics import PORTFOLIO_PATCHED

from .conftest import logs

pytestmark = [pytest.mark.kafka, pytest.mark.fault]

PORTFOLIOS = 50
GROUP = "optimizer"
TOPIC = PORTFOLIO_PATCHED.name


@pytest.fixture(scope="module")
def optimizer_only(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Stack]:
    if broker_kind(request.config) == "tansu":
        # `make test` runs this on Apache Kafka; the Tansu smoke suite leaves it out.
        pytest.skip(
            "the replay step commits the group's offsets from outside the group (as "
            "kafka-consumer-groups --reset-offsets does); Tansu answers UnknownMemberIdError"
        )
    running = Stack(
        tmp_path_factory.mktemp("no-event-id"),
        overrides=DEMO_ENVIRONMENT,
        kafka=stack_kafka(request.config),
    )
    running.start(echo=False, only=("optimizer",))
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


def deposit_without_id(portfolio: str) -> bytes:
    """What a plain Kafka client sends when it leaves the optional `event_id` out."""
    return json.dumps(
        {"event_type": "portfolio.cash_deposited", "portfolio_id": portfolio, "amount": "1.00"}
    ).encode()


async def cash_by_portfolio(path: Path, portfolios: list[str]) -> dict[str, Decimal | None]:
    """The optimizer's own book, read from its store file (WAL: safe beside the writer)."""
    store = SqliteStore(path)
    await store.open()
    try:
        cash: dict[str, Decimal | None] = {}
        for pid in portfolios:
            doc = await store.load("portfolios", pid)
            cash[pid] = None if doc is None else Decimal(doc.state["portfolio"]["cash"])
        return cash
    finally:
        await store.close()


async def rewind_group(bootstrap: str, offsets: dict[TopicPartition, int]) -> None:
    """Commit `offsets` for the optimizer's group, as `kafka-consumer-groups --reset-offsets`
    does. The broker accepts it once the killed member's session has expired (the group is
    empty); until then it answers that the group is rebalancing or the member unknown."""
    deadline = time.monotonic() + 60
    while True:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, group_id=GROUP, enable_auto_commit=False
        )
        await consumer.start()
        try:
            consumer.assign(list(offsets))
            await consumer.commit({tp: OffsetAndMetadata(o, "") for tp, o in offsets.items()})
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
        finally:
            await consumer.stop()
        await asyncio.sleep(0.5)


def test_deposits_without_event_id_are_applied_once_across_a_sigkill_and_a_replay(
    optimizer_only: Stack,
) -> None:
    stack = optimizer_only
    bootstrap = stack.kafka.bootstrap_servers
    store_file = Path(stack.var_dir) / "optimizer.sqlite"
    portfolios = [f"no-id-{i:02d}" for i in range(PORTFOLIOS)]

    async def scenario() -> tuple[dict[str, Decimal | None], dict[str, Decimal | None]]:
        await ensure_topics(bootstrap)
        async with Publisher(bootstrap) as publisher:
            # Portfolios without a model: a deposit stays cash, so the book shows each deposit.
            created = await publisher.publish_tracked(
                PortfolioSettingsChanged(portfolio_id=pid, account_id=pid) for pid in portfolios
            )
        await wait_until_consumed(bootstrap, GROUP, created)

        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20)
        await producer.start()
        try:
            sent = [
                await producer.send(TOPIC, deposit_without_id(pid), key=pid.encode())
                for pid in portfolios
            ]
            landed = await asyncio.gather(*sent)
        finally:
            await producer.stop()

        # SIGKILL as soon as the optimizer has applied some of the deposits: mid-batch.
        deadline = time.monotonic() + 60
        while not any((await cash_by_portfolio(store_file, portfolios)).values()):
            assert time.monotonic() < deadline, logs(stack)
            await asyncio.sleep(0.01)
        stack.kill("optimizer")
        at_kill = await cash_by_portfolio(store_file, portfolios)

        # Back to each partition's first deposit: every deposit is delivered again.
        first: dict[TopicPartition, int] = {}
        for meta in landed:
            tp = TopicPartition(TOPIC, meta.partition)
            first[tp] = min(first.get(tp, meta.offset), meta.offset)
        await rewind_group(bootstrap, first)
        stack.restart("optimizer")
        stack.wait_ready(120)
        everything: dict[str, dict[int, int]] = {TOPIC: {}}
        for meta in landed:
            ends = everything[TOPIC]
            ends[meta.partition] = max(ends.get(meta.partition, 0), meta.offset + 1)
        await wait_until_consumed(bootstrap, GROUP, everything, timeout=120)
        return at_kill, await cash_by_portfolio(store_file, portfolios)

    at_kill, after = asyncio.run(scenario())
    assert any(cash == Decimal("1.00") for cash in at_kill.values())  # the kill came mid-work
    doubled = sorted(pid for pid, cash in after.items() if cash != Decimal("1.00"))
    assert doubled == [], f"{len(doubled)} of {PORTFOLIOS} books off: {doubled[:5]}\n{logs(stack)}"
