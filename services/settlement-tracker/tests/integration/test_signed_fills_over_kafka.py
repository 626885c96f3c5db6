"""Producer signatures end to end over a real broker: the order-router's relay signs its fills,
the settlement-tracker accepts those and dead-letters forged ones (unsigned, or signed with a
key it does not hold), so run.completed reports what the broker filled."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer  # type: ignore[import-untyped]

from rebal_runtime.clock import FakeClock
from rebal_runtime.embedded import EmbeddedKafka
from rebal_runtime.outbox import AiokafkaSender, OutboxRelay
from rebal_runtime.signing import SIGNATURE_HEADER, Signer, new_signing_keys, signing_env
from rebal_runtime.store import Commit, InMemoryStore
from rebal_runtime.testing.kafka import TopicReader
from rebal_runtime.testing.pytest_plugin import settings_for
from rebal_runtime.topics_admin import ensure_topics
from rebal_runtime.uow import to_outbox
from rebal_schemas import (
    Event,
    MessageDeadLettered,
    OrderSide,
    PlannedOrder,
    RunCompleted,
    encode,
    key_of,
)
from rebal_settlement_tracker.adapters.run_document import RUNS
from rebal_settlement_tracker.bootstrap import bootstrap
from rebal_settlement_tracker.settings import SettlementSettings

pytestmark = pytest.mark.kafka

WEDNESDAY = date(2026, 3, 4)
SPY = PlannedOrder(
    leg=0, symbol="SPY", side=OrderSide.buy, qty=Decimal(15), expected_price=Decimal("580.00")
)


async def send_raw(bootstrap_servers: str, *records: tuple[Event, list[tuple[str, bytes]]]) -> None:
    """What a producer that got past the ACL could send: any value, any headers."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks="all")
    await producer.start()
    try:
        for event, headers in records:
            await producer.send_and_wait(
                event.TOPIC, value=encode(event), key=key_of(event), headers=headers
            )
    finally:
        await producer.stop()


async def router_relay(servers: str, tmp_path: Path, key: str) -> tuple[InMemoryStore, OutboxRelay]:
    """The order-router's side: its outbox, published by a relay with its signing key."""
    store = InMemoryStore()
    await store.open()
    settings = settings_for(
        servers, tmp_path, "order-router", service_name="order-router", signing_key=key
    )
    return store, OutboxRelay(store, AiokafkaSender(settings), poll_seconds=0.02)


async def test_signed_fill_from_the_relay_is_accepted_and_forged_ones_are_dead_lettered(
    kafka: EmbeddedKafka, tmp_path: Path, run_events
) -> None:
    servers = kafka.bootstrap_servers
    await ensure_topics(servers)
    keys = new_signing_keys(["order-router", "settlement-tracker"])
    tracker_env = signing_env("settlement-tracker", keys)
    base = settings_for(servers, tmp_path, "settlement").model_dump()
    settings = SettlementSettings(
        **{
            **base,
            "settlement_cycle_days": 0,
            "settlement_sweep_seconds": 0.05,
            "trusted_signers": tracker_env["REBAL_TRUSTED_SIGNERS"],
        }
    )
    assert settings.acceptance().platform_signer == "order-router"
    svc = bootstrap(settings, clock=FakeClock(datetime.combine(WEDNESDAY, time(21), tzinfo=UTC)))

    events = run_events(orders=(SPY,))
    real = events.filled(0, "15", "580.20", WEDNESDAY)
    forged_early = events.filled(0, "1000", "580.00", WEDNESDAY)
    forged_unsigned = events.filled(0, "15", "580.00", WEDNESDAY)
    forged_guessed = events.filled(0, "15", "580.10", WEDNESDAY)
    guessed = Signer("order-router", b"not-the-key").header(
        forged_guessed.TOPIC, key_of(forged_guessed), encode(forged_guessed)
    )
    forged_values = {encode(e) for e in (forged_early, forged_unsigned, forged_guessed)}

    router_store, relay = await router_relay(servers, tmp_path, keys["order-router"])

    def of_run(evs: list[object]) -> list[RunCompleted]:
        return [e for e in evs if isinstance(e, RunCompleted) and e.run_id == events.run_id]

    def forged_letters(evs: list[object]) -> list[MessageDeadLettered]:
        return [
            e
            for e in evs
            if isinstance(e, MessageDeadLettered)
            and base64.b64decode(e.original_value_b64) in forged_values
        ]

    async with (
        svc.runtime.running(),
        TopicReader(servers, "run.completed") as completed,
        TopicReader(servers, "dead.letter") as dead,
        TopicReader(servers, "order.filled") as fills,
    ):
        await send_raw(servers, (forged_early, []))  # before the plan and the real fill
        await send_raw(servers, (events.ready(), []))

        async def planned() -> bool:
            doc = await svc.runtime.store.load(RUNS, events.run_id)
            return doc is not None and doc.state["orders"] is not None

        async with asyncio.timeout(30):
            while not await planned():  # noqa: ASYNC110 - the store has no event for it
                await asyncio.sleep(0.05)
        await send_raw(servers, (forged_unsigned, []), (forged_guessed, [guessed]))
        letters = await dead.wait_for(lambda evs: len(forged_letters(evs)) == 3)
        assert of_run(completed.events()) == []  # no forged fill completed the run

        await relay.start()
        try:
            await router_store.commit(
                Commit("runs", events.run_id, 0, {}, outbox=[to_outbox(real)])
            )
            [run_completed] = of_run(await completed.wait_for(lambda evs: bool(of_run(evs))))
        finally:
            await relay.stop()
        raw = await fills.wait_for(
            lambda records: any(r.value == encode(real) for r in records), decoded=False
        )

    assert run_completed.holdings_delta == {"SPY": Decimal(15)}
    assert [o.filled_qty for o in run_completed.orders] == [Decimal(15)]
    [real_record] = [r for r in raw if r.value == encode(real)]
    signature = dict(real_record.headers)[SIGNATURE_HEADER]
    assert signature.startswith(b"order-router:")
    by_value = {base64.b64decode(e.original_value_b64): e for e in forged_letters(letters)}
    assert {e.error_type for e in by_value.values()} == {"FactRejectedMessage"}
    assert all("not_signed_by_platform" in e.reason for e in by_value.values())
    assert "no signature" in by_value[encode(forged_unsigned)].reason
    assert "bad signature claiming 'order-router'" in by_value[encode(forged_guessed)].reason
    assert by_value[encode(forged_early)].offset >= 0  # the early one keeps its coordinates
    # (the group reads the shared topic from the start: other tests' unsigned fills count too)
    assert svc.handlers.rejected["not_signed_by_platform"] >= 3
