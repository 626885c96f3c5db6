"""`python -m rebal_settlement_tracker` as a real subprocess over the embedded Kafka: killed with
SIGKILL mid-run and restarted on the same SQLite file, it still publishes exactly one
run.completed and one run.settled with the right totals, each status change once, and keeps every
transaction."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiokafka import AIOKafkaProducer  # type: ignore[import-untyped]

from rebal_runtime.calendar import ExchangeCalendar
from rebal_runtime.embedded import EmbeddedKafka
from rebal_runtime.store.sqlite import SqliteStore
from rebal_runtime.testing.kafka import TopicReader
from rebal_runtime.testing.pytest_plugin import unique
from rebal_runtime.topics_admin import ensure_topics
from rebal_schemas import (
    CloseReason,
    Event,
    RunCompleted,
    RunSettled,
    RunStatus,
    TransactionSettled,
    encode,
    key_of,
)
from rebal_settlement_tracker.adapters.run_document import RUNS

pytestmark = [pytest.mark.kafka, pytest.mark.fault]


def last_session() -> date:
    """The latest NYSE session up to today: under T+0 its trades are due now, even at weekends."""
    calendar = ExchangeCalendar("XNYS")
    day = datetime.now(ZoneInfo("America/New_York")).date()
    while not calendar.is_session(day):
        day -= timedelta(days=1)
    return day


class ServiceProcess:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "rebal_settlement_tracker"],
                env={**os.environ, **self.env},
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.log.parent,
            )

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def terminate(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(30)

    def ensure_stopped(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@pytest.fixture
def service_process(fresh_kafka: EmbeddedKafka, tmp_path: Path) -> Iterator[ServiceProcess]:
    env = {
        "REBAL_KAFKA_BOOTSTRAP_SERVERS": fresh_kafka.bootstrap_servers,
        "REBAL_STORE_URL": f"sqlite:///{tmp_path / 'settlement-tracker.sqlite'}",
        "REBAL_SERVICE_NAME": unique("settlement-tracker"),
        "REBAL_KAFKA_SESSION_TIMEOUT_MS": "2000",
        "REBAL_SETTLEMENT_CYCLE_DAYS": "0",
        "REBAL_SETTLEMENT_SWEEP_SECONDS": "0.2",
        "REBAL_OUTBOX_POLL_SECONDS": "0.1",
        "REBAL_GRACEFUL_TIMEOUT_SECONDS": "5",
        "REBAL_LOG_FORMAT": "json",
    }
    process = ServiceProcess(env, tmp_path / "service.log")
    yield process
    process.ensure_stopped()
    print((tmp_path / "service.log").read_text()[-4000:])  # shown by pytest when the test fails


async def publish(bootstrap_servers: str, *events: Event) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks="all")
    await producer.start()
    try:
        for event in events:
            await producer.send_and_wait(event.TOPIC, value=encode(event), key=key_of(event))
    finally:
        await producer.stop()


def at(day: date, minute: int) -> datetime:
    return datetime.combine(day, time(15, minute), tzinfo=UTC)


async def test_sigkill_mid_run_then_restart_gives_one_complete_run(
    fresh_kafka: EmbeddedKafka, tmp_path: Path, service_process: ServiceProcess, run_events
) -> None:
    bootstrap_servers = fresh_kafka.bootstrap_servers
    await ensure_topics(bootstrap_servers)
    trade_date = last_session()
    goog = run_events().order(1).model_copy(update={"leg": 3, "symbol": "GOOG"})
    orders = (*run_events().orders, goog)
    events = run_events(orders=orders)
    sell_aapl = events.filled(0, "10", "200.50", trade_date, at=at(trade_date, 0))
    buy_msft = events.filled(1, "4", "400.125", trade_date, at=at(trade_date, 1))
    vti_partial = events.filled(2, "1", "300.00", trade_date, final=False, at=at(trade_date, 2))
    vti_full = events.filled(2, "3.3333", "300.01", trade_date, at=at(trade_date, 3))
    goog_rejected = events.closed(3, CloseReason.rejected, at(trade_date, 4))
    msft_replayed = events.filled(1, "4", "400.125", trade_date, at=at(trade_date, 1))

    def settled_legs(evs: list[Any]) -> dict[int, set[str]]:
        legs: dict[int, set[str]] = {}
        for e in evs:
            if isinstance(e, TransactionSettled) and e.run_id == events.run_id:
                legs.setdefault(e.leg, set()).add(e.event_id)
        return legs

    async with (
        TopicReader(bootstrap_servers, "transaction.settled") as settled,
        TopicReader(bootstrap_servers, "run.completed") as completed,
        TopicReader(bootstrap_servers, "run.settled") as run_settled,
        TopicReader(bootstrap_servers, "run.status_changed") as statuses,
    ):
        service_process.start()
        await publish(bootstrap_servers, events.ready(), sell_aapl, buy_msft)
        await settled.wait_for(lambda evs: set(settled_legs(evs)) == {0, 1}, timeout=60)

        await publish(bootstrap_servers, vti_partial)
        service_process.kill()  # mid-run: the partial fill may or may not have been handled

        service_process.start()
        await publish(bootstrap_servers, vti_full, goog_rejected, sell_aapl, msft_replayed)
        await completed.wait_for(lambda evs: len(evs) >= 1, timeout=60)
        await run_settled.wait_for(lambda evs: len(evs) >= 1, timeout=60)
        await asyncio.sleep(1.0)  # anything extra would have come by now (sweep every 0.2 s)
        await completed.settle(0.5)
        await settled.settle(0.5)
        await statuses.settle(0.5)
        assert service_process.terminate() == 0  # SIGTERM: graceful stop

    [run_completed] = completed.events()  # exactly one record on the topic
    assert isinstance(run_completed, RunCompleted) and run_completed.run_id == events.run_id
    assert run_completed.status is RunStatus.COMPLETED_ADJUSTED  # GOOG was rejected
    # +10 x 200.50 - 4 x 400.125 - 3.3333 x 300.01 (-1000.023333 -> -1000.02), GOOG nothing
    assert run_completed.cash_delta == Decimal("-595.52")
    assert run_completed.holdings_delta == {
        "AAPL": Decimal(-10),
        "MSFT": Decimal(4),
        "VTI": Decimal("3.3333"),
    }
    # T+0: each executed leg settled in the write of its fill, before the run completed
    assert [(o.leg, o.transaction_status.value, o.filled_qty) for o in run_completed.orders] == [
        (0, "SETTLED", Decimal(10)),
        (1, "SETTLED", Decimal(4)),
        (2, "SETTLED", Decimal("3.3333")),
    ]
    assert [
        (o.leg, o.status.value, o.transaction_status.value) for o in run_completed.failed_orders
    ] == [(3, "rejected", "NOT_EXECUTED")]
    assert run_completed.last_execution_at == at(trade_date, 3)
    [done] = run_settled.events()  # exactly one record on the topic
    assert isinstance(done, RunSettled) and done.status is RunStatus.COMPLETED_ADJUSTED
    assert done.cash_delta == run_completed.cash_delta
    # each status once, whatever the kill repeated (a re-sent row has the same event id)
    path = {(e.event_id, e.status.value) for e in statuses.events() if e.id == events.run_id}
    assert sorted(status for _, status in path) == ["COMPLETED_ADJUSTED", "IN_PROGRESS", "QUEUED"]
    # one settlement per executed leg (a relay re-send after the kill would repeat the same id)
    legs = settled_legs(settled.events())
    assert {leg: len(ids) for leg, ids in legs.items()} == {0: 1, 1: 1, 2: 1}

    store = SqliteStore(tmp_path / "settlement-tracker.sqlite")
    await store.open()
    try:
        doc = await store.load(RUNS, events.run_id)
        assert await store.pending_outbox() == []
    finally:
        await store.close()
    assert doc is not None and doc.state["completed"] is True and doc.state["settled"] is True
    kept = [(t["leg"], t["status"], t["filled_qty"]) for t in doc.state["transactions"]]
    assert kept == [
        (0, "SETTLED", "10"),
        (1, "SETTLED", "4"),
        (2, "SETTLED", "3.3333"),
        (3, "NOT_EXECUTED", "0"),
    ]
