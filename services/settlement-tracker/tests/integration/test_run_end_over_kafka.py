"""A run's early end over the REAL embedded Kafka: CANCELED by the order-router's
run.execution_stopped (signed, as its relay signs it; a forged one is dead-lettered), and TIMEOUT
found by the periodic sweep when the clock passes the deadline."""

from __future__ import annotations

import base64
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from rebal_runtime.clock import FakeClock
from rebal_runtime.embedded import EmbeddedKafka
from rebal_runtime.signing import new_signing_keys, signing_env
from rebal_runtime.store import Commit
from rebal_runtime.testing.kafka import TopicReader
from rebal_runtime.topics_admin import ensure_topics
from rebal_runtime.uow import to_outbox
from rebal_schemas import (
    BrokerIntegration,
    MessageDeadLettered,
    RunCompleted,
    RunSettled,
    RunStatus,
    RunStatusChanged,
    TransactionStatus,
    encode,
)

from .test_service_over_kafka import WEDNESDAY, market_time, of_run, publish, service
from .test_signed_fills_over_kafka import router_relay

pytestmark = pytest.mark.kafka


async def test_a_signed_stop_cancels_the_run_and_a_forged_one_is_dead_lettered(
    kafka: EmbeddedKafka, tmp_path: Path, run_events
) -> None:
    servers = kafka.bootstrap_servers
    await ensure_topics(servers)
    keys = new_signing_keys(["order-router"])
    trusted = signing_env("settlement-tracker", keys)["REBAL_TRUSTED_SIGNERS"]
    clock = FakeClock(market_time(WEDNESDAY, 14))
    svc = service(servers, tmp_path, clock, trusted_signers=trusted)
    events, other = run_events(), run_events()
    cancel = events.cancel()
    stop = events.stopped("canceled", market_time(WEDNESDAY, 14), causation_id=cancel.event_id)
    forged = other.stopped("canceled", market_time(WEDNESDAY, 14))

    router_store, relay = await router_relay(servers, tmp_path, keys["order-router"])

    def ended(evs: list[Any]) -> list[Any]:
        kinds = (RunStatusChanged, RunCompleted, RunSettled)
        return [e for e in evs if isinstance(e, kinds) and e.correlation_id == events.run_id]

    def forged_letters(evs: list[Any]) -> list[MessageDeadLettered]:
        return [
            e
            for e in evs
            if isinstance(e, MessageDeadLettered)
            and base64.b64decode(e.original_value_b64) == encode(forged)
        ]

    async with (
        svc.runtime.running(),
        TopicReader(servers, "run.status_changed") as statuses,
        TopicReader(servers, "run.completed") as completed,
        TopicReader(servers, "run.settled") as settled,
        TopicReader(servers, "dead.letter") as dead,
    ):
        await relay.start()
        try:
            # the stop before the plan (its topic is read on its own): the run ends once planned
            await router_store.commit(
                Commit("runs", events.run_id, 0, {}, outbox=[to_outbox(stop)])
            )
            await publish(servers, forged, events.ready(), other.ready(), cancel)
            [run_completed] = of_run(events.run_id, RunCompleted)(
                await completed.wait_for(lambda evs: bool(of_run(events.run_id, RunCompleted)(evs)))
            )
            await settled.wait_for(lambda evs: bool(of_run(events.run_id, RunSettled)(evs)))
            [letter] = forged_letters(await dead.wait_for(lambda evs: bool(forged_letters(evs))))
            # The status change travels on its own topic: waited for, not assumed read yet.
            await statuses.wait_for(
                lambda evs: any(e.status is RunStatus.CANCELED for e in ended(evs))
            )
        finally:
            await relay.stop()
        await statuses.settle(0.3)
        await completed.settle(0.3)

    assert run_completed.status is RunStatus.CANCELED
    assert {o.transaction_status for o in run_completed.failed_orders} == {
        TransactionStatus.CANCELLED
    }
    [change] = [e for e in ended(statuses.events()) if e.status is RunStatus.CANCELED]
    assert change.causation_id == cancel.event_id  # what `rebal cancel --wait` waits for
    assert letter.error_type == "FactRejectedMessage" and "not_signed_by_platform" in letter.reason
    assert of_run(other.run_id, RunCompleted)(completed.events()) == []  # still QUEUED


async def test_a_client_run_without_outcomes_times_out_at_the_sweep(
    kafka: EmbeddedKafka, tmp_path: Path, run_events
) -> None:
    servers = kafka.bootstrap_servers
    await ensure_topics(servers)
    created = market_time(WEDNESDAY, 14)
    clock = FakeClock(created)
    svc = service(servers, tmp_path, clock, run_timeout_seconds=3600)
    events = run_events(broker_integration=BrokerIntegration.CLIENT)
    filled = events.filled(0, "10", "200.50", WEDNESDAY, producer="client-middleware")
    completed_of, settled_of = (
        of_run(events.run_id, RunCompleted),
        of_run(events.run_id, RunSettled),
    )

    async with (
        svc.runtime.running(),
        TopicReader(servers, "run.completed") as completed,
        TopicReader(servers, "run.settled") as settled,
    ):
        await publish(servers, events.ready(occurred_at=created), filled)

        async def executed() -> bool:
            doc = await svc.runtime.store.load("runs", events.run_id)
            return doc is not None and bool(doc.state["fills"])

        while not await executed():  # the store has no event for it
            await completed.settle(0.05)
        assert completed_of(completed.events()) == []
        clock.set(created + timedelta(hours=1))  # the middleware never said more
        [run_completed] = completed_of(
            await completed.wait_for(lambda evs: bool(completed_of(evs)))
        )
        assert settled_of(settled.events()) == []  # the 10 AAPL settle on Thursday (T+1)
        clock.set(created + timedelta(days=1))
        [run_settled] = settled_of(await settled.wait_for(lambda evs: bool(settled_of(evs))))
        await completed.settle(0.3)

    assert len(completed_of(completed.events())) == 1
    assert run_completed.status is run_settled.status is RunStatus.TIMEOUT
    assert run_completed.reason == "no outcome by the deadline for 2 of 3 order(s)"
    assert [o.transaction_status for o in run_completed.failed_orders] == [
        TransactionStatus.EXPIRED
    ] * 2
    assert [t.status for t in run_settled.transactions] == [
        TransactionStatus.SETTLED,
        TransactionStatus.EXPIRED,
        TransactionStatus.EXPIRED,
    ]
