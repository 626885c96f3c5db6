"""The settlement-tracker in-process (`ServiceRuntime`) over the REAL embedded Kafka."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer  # type: ignore[import-untyped]

from rebal_runtime.clock import FakeClock
from rebal_runtime.embedded import EmbeddedKafka
from rebal_runtime.testing.kafka import TopicReader
from rebal_runtime.testing.pytest_plugin import settings_for
from rebal_runtime.topics_admin import ensure_topics
from rebal_schemas import (
    BrokerIntegration,
    Event,
    MessageDeadLettered,
    RejectionCode,
    RequestRejected,
    RunCompleted,
    RunCreated,
    RunSettled,
    RunStatus,
    RunStatusChanged,
    TransactionSettled,
    encode,
    key_of,
)
from rebal_settlement_tracker.adapters.run_document import RUNS
from rebal_settlement_tracker.bootstrap import SettlementService, bootstrap
from rebal_settlement_tracker.settings import SettlementSettings

pytestmark = pytest.mark.kafka

WEDNESDAY, THURSDAY = date(2026, 3, 4), date(2026, 3, 5)


def market_time(day: date, hour: int = 15, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=UTC)


def service(
    bootstrap_servers: str, tmp_path: Path, clock: FakeClock, **overrides: Any
) -> SettlementService:
    base = settings_for(bootstrap_servers, tmp_path, "settlement").model_dump()
    settings = SettlementSettings(**{**base, "settlement_sweep_seconds": 0.05, **overrides})
    return bootstrap(settings, clock=clock)


async def publish(bootstrap_servers: str, *items: Event | tuple[str, bytes, bytes]) -> None:
    """Events, or raw (topic, key, value) records for input that is not a valid event."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks="all")
    await producer.start()
    try:
        for item in items:
            if isinstance(item, Event):
                await producer.send_and_wait(item.TOPIC, value=encode(item), key=key_of(item))
            else:
                topic, key, value = item
                await producer.send_and_wait(topic, value=value, key=key)
    finally:
        await producer.stop()


async def wait_until(predicate: Callable[[], Awaitable[bool]], timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.05)


def of_run(run_id: str, kind: type[Event]) -> Callable[[list[Any]], list[Any]]:
    return lambda events: [e for e in events if isinstance(e, kind) and e.run_id == run_id]


async def test_t1_run_completes_at_execution_and_settles_when_the_clock_reaches_its_date(
    kafka: EmbeddedKafka, tmp_path: Path, run_events
) -> None:
    await ensure_topics(kafka.bootstrap_servers)
    clock = FakeClock(market_time(WEDNESDAY, 14))
    svc = service(kafka.bootstrap_servers, tmp_path, clock)
    events = run_events()
    fills = [
        events.filled(0, "10", "200.50", WEDNESDAY),
        events.filled(1, "4", "400.125", WEDNESDAY),
        events.filled(2, "3.3333", "300.01", WEDNESDAY),
    ]
    settled_of, completed_of = (
        of_run(events.run_id, TransactionSettled),
        of_run(events.run_id, RunCompleted),
    )
    run_settled_of = of_run(events.run_id, RunSettled)

    def statuses_of(evs: list[Any]) -> list[Any]:
        kinds = (RunCreated, RunStatusChanged)
        return [e for e in evs if isinstance(e, kinds) and e.id == events.run_id]

    async with (
        svc.runtime.running(),
        TopicReader(kafka.bootstrap_servers, "transaction.settled") as settled,
        TopicReader(kafka.bootstrap_servers, "run.completed") as completed,
        TopicReader(kafka.bootstrap_servers, "run.settled") as run_settled,
        TopicReader(kafka.bootstrap_servers, "run.status_changed") as statuses,
    ):
        await publish(kafka.bootstrap_servers, events.ready(), *fills, fills[1])
        # every order final: run.completed on the trade date, before anything settles (T+1)
        await completed.wait_for(lambda evs: bool(completed_of(evs)))
        await statuses.wait_for(lambda evs: len(statuses_of(evs)) == 3)
        await settled.settle(0.3)
        assert settled_of(settled.events()) == []
        assert run_settled_of(run_settled.events()) == []

        clock.set(market_time(THURSDAY, 14))
        await run_settled.wait_for(lambda evs: bool(run_settled_of(evs)))
        await settled.wait_for(lambda evs: len(settled_of(evs)) == 3)
        await completed.settle(0.5)
        await statuses.settle(0.3)

    [run_completed] = completed_of(completed.events())
    assert run_completed.status is RunStatus.COMPLETED_SUCCESS
    # +2005.00 - 1600.50 - 1000.02 (3.3333 x 300.01 rounded to cents)
    assert run_completed.cash_delta == Decimal("-595.52")
    assert run_completed.completed_at == market_time(WEDNESDAY, 14)
    assert [o.transaction_status.value for o in run_completed.orders] == ["EXECUTED"] * 3
    assert {s.settlement_date for s in settled_of(settled.events())} == {THURSDAY}
    [done] = run_settled_of(run_settled.events())
    assert done.settled_at == market_time(THURSDAY, 14)
    assert {t.status.value for t in done.transactions} == {"SETTLED"}
    assert [e.status for e in statuses_of(statuses.events())] == [
        RunStatus.QUEUED,
        RunStatus.IN_PROGRESS,
        RunStatus.COMPLETED_SUCCESS,
    ]


async def test_a_cancel_of_an_unknown_or_final_run_is_answered_on_request_rejected(
    kafka: EmbeddedKafka, tmp_path: Path, run_events
) -> None:
    await ensure_topics(kafka.bootstrap_servers)
    clock = FakeClock(market_time(WEDNESDAY, 20))
    svc = service(
        kafka.bootstrap_servers,
        tmp_path,
        clock,
        settlement_cycle_days=0,
        pending_cancel_seconds=60,
    )
    events, unknown = run_events(orders=run_events().orders[:1]), run_events()
    final, nowhere = events.cancel(), unknown.cancel()

    def answers(evs: list[Any]) -> list[Any]:
        mine = (final.event_id, nowhere.event_id)
        return [e for e in evs if isinstance(e, RequestRejected) and e.causation_id in mine]

    async with (
        svc.runtime.running(),
        TopicReader(kafka.bootstrap_servers, "run.settled") as run_settled,
        TopicReader(kafka.bootstrap_servers, "request.rejected") as rejected,
    ):
        await publish(kafka.bootstrap_servers, nowhere, events.ready())
        await publish(kafka.bootstrap_servers, events.filled(0, "10", "200.50", WEDNESDAY))
        await run_settled.wait_for(lambda evs: bool(of_run(events.run_id, RunSettled)(evs)))
        await publish(kafka.bootstrap_servers, final, nowhere)  # nowhere: a client's retry
        await rejected.wait_for(lambda evs: len(answers(evs)) == 1)  # RUN_FINAL, at once
        # nowhere's run may still come: it waits for it, then the sweep refuses it
        clock.advance(timedelta(minutes=2))
        await rejected.wait_for(lambda evs: len(answers(evs)) == 2)
        await rejected.settle(0.5)

    by_cause = {e.causation_id: e for e in answers(rejected.events())}
    assert len(answers(rejected.events())) == 2  # the retry was answered before: not again
    assert by_cause[nowhere.event_id].reason_code is RejectionCode.RUN_UNKNOWN
    assert by_cause[final.event_id].reason_code is RejectionCode.RUN_FINAL
    assert by_cause[final.event_id].portfolio_id == events.portfolio_id


async def test_client_fills_before_the_plan_complete_the_run_once_at_t0(
    kafka: EmbeddedKafka, tmp_path: Path, run_events
) -> None:
    await ensure_topics(kafka.bootstrap_servers)
    clock = FakeClock(market_time(WEDNESDAY, 20))
    svc = service(kafka.bootstrap_servers, tmp_path, clock, settlement_cycle_days=0)
    events = run_events(broker_integration=BrokerIntegration.CLIENT)
    fills = [
        events.filled(0, "10", "200.50", WEDNESDAY, producer="client-middleware"),
        events.filled(1, "4", "400.125", WEDNESDAY, producer="client-middleware"),
        events.filled(2, "3.3333", "300.01", WEDNESDAY, producer="client-middleware"),
    ]
    completed_of = of_run(events.run_id, RunCompleted)
    async with (
        svc.runtime.running(),
        TopicReader(kafka.bootstrap_servers, "run.completed") as completed,
    ):
        # the client's middleware reports before the optimizer's event arrives, and repeats itself
        await publish(kafka.bootstrap_servers, *fills, fills[0])
        await publish(kafka.bootstrap_servers, events.ready(), fills[2])
        await completed.wait_for(lambda evs: bool(completed_of(evs)))
        await completed.settle(0.5)

    [run_completed] = completed_of(completed.events())
    assert run_completed.broker_integration is BrokerIntegration.CLIENT
    assert [o.transaction_status.value for o in run_completed.orders] == ["SETTLED"] * 3  # T+0
    assert run_completed.status is RunStatus.COMPLETED_SUCCESS
    assert run_completed.holdings_delta == {
        "AAPL": Decimal(-10),
        "MSFT": Decimal(4),
        "VTI": Decimal("3.3333"),
    }


async def test_bad_fills_go_to_dead_letter_with_the_reason_and_the_next_one_is_processed(
    fresh_kafka: EmbeddedKafka, tmp_path: Path, run_events
) -> None:
    bootstrap_servers = fresh_kafka.bootstrap_servers
    await ensure_topics(bootstrap_servers)
    clock = FakeClock(market_time(WEDNESDAY, 20))
    svc = service(bootstrap_servers, tmp_path, clock, settlement_cycle_days=0)
    events = run_events(orders=run_events().orders[:1])
    valid = events.filled(0, "10", "200.50", WEDNESDAY)
    float_qty = encode(valid).replace(b'"filled_qty":"10"', b'"filled_qty":10.0')
    assert float_qty != encode(valid)
    unknown_leg = events.filled(5, "1", "10", WEDNESDAY)
    key = events.portfolio_id.encode()
    async with (
        svc.runtime.running(),
        TopicReader(bootstrap_servers, "dead.letter") as dead,
        TopicReader(bootstrap_servers, "run.completed") as completed,
    ):
        await publish(bootstrap_servers, events.ready())

        async def planned() -> bool:  # the topics are consumed independently: plan first
            doc = await svc.runtime.store.load(RUNS, events.run_id)
            return doc is not None and doc.state["orders"] is not None

        await wait_until(planned)
        await publish(bootstrap_servers, ("order.filled", key, float_qty), unknown_leg, valid)
        await completed.wait_for(lambda evs: len(evs) == 1)
        letters = await dead.wait_for(lambda evs: len(evs) == 2)

    by_value = {base64.b64decode(e.original_value_b64): e for e in letters}
    assert isinstance(letters[0], MessageDeadLettered)
    schema_error = by_value[float_qty]
    assert schema_error.error_type == "SchemaViolation"
    assert "filled_qty" in schema_error.reason and "strings" in schema_error.reason
    domain_error = by_value[encode(unknown_leg)]
    assert domain_error.error_type == "FactRejectedMessage"
    assert "leg 5 is not in the plan" in domain_error.reason
    assert {e.original_topic for e in letters} == {"order.filled"}
    assert completed.events()[0].status is RunStatus.COMPLETED_SUCCESS
