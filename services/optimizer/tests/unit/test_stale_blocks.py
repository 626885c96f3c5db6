"""The stale-block alarm: a portfolio blocked by one run past the deadline is alarmed once per
block (error line + counter), and forgotten once unblocked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import structlog

from rebal_optimizer.adapters.portfolio_document import (
    PORTFOLIOS,
    PortfolioRecord,
    record_to_document,
)
from rebal_optimizer.bootstrap import store_ports
from rebal_optimizer.domain import Portfolio, RunType
from rebal_optimizer.entrypoints.stale_blocks import StaleBlockAlarm
from rebal_optimizer.service_layer.unit_of_work import PortfolioUnitOfWork
from rebal_runtime.clock import FakeClock
from rebal_runtime.store.memory import InMemoryStore
from rebal_runtime.uow import Change, apply_once

NOW = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)
DEADLINE = timedelta(hours=6)


def blocked(portfolio_id: str, since: datetime | None, by: str = "O1") -> Portfolio:
    return Portfolio(
        portfolio_id,
        blocked_by=by,
        blocked_run_type=RunType.FULL_REBALANCE,
        blocked_at=since,
    )


def test_the_rule() -> None:
    assert blocked("p", NOW - timedelta(hours=7)).stale_block(NOW, DEADLINE) == timedelta(hours=7)
    assert blocked("p", NOW - timedelta(hours=5)).stale_block(NOW, DEADLINE) is None
    assert blocked("p", None).stale_block(NOW, DEADLINE) is None  # blocked before blocked_at
    assert Portfolio("p").stale_block(NOW, DEADLINE) is None  # not blocked


async def save(store: InMemoryStore, portfolio: Portfolio) -> None:
    record = PortfolioRecord(portfolio, account_id="acct")

    async def mutate(doc: object) -> Change:
        return Change(record_to_document(record), index=record.index())

    await apply_once(store, PORTFOLIOS, portfolio.portfolio_id, None, mutate)


async def test_alarm_once_per_block() -> None:
    store = InMemoryStore()
    await store.open()
    await save(store, blocked("old", NOW - timedelta(hours=9)))
    await save(store, blocked("fresh", NOW - timedelta(hours=1)))
    ports = store_ports(store)
    load = PortfolioUnitOfWork(store, ports.documents).load
    alarm = StaleBlockAlarm(ports.queries, load, FakeClock(NOW), DEADLINE, every_seconds=60)
    with structlog.testing.capture_logs() as logs:
        assert await alarm.check(NOW) == ["old"]
        assert await alarm.check(NOW + timedelta(minutes=5)) == ["old"]
    assert alarm.alarms == 1 and alarm.stale == 1
    assert [e["portfolio_id"] for e in logs if e["log_level"] == "error"] == ["old"]
    await save(store, Portfolio("old"))  # its run completed
    assert await alarm.check(NOW) == [] and alarm.stale == 0
    await save(store, blocked("old", NOW - timedelta(hours=8), by="O2"))  # a new block
    assert await alarm.check(NOW) == ["old"] and alarm.alarms == 2
