"""TIMEOUT: a run whose orders' outcomes are not all known `run_timeout` after it reached
IN_PROGRESS (a CLIENT run: after its creation) ends TIMEOUT at the sweep; its unknown legs
EXPIRE, run.settled follows once what executed settled, and a late fill is still recorded."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from rebal_schemas import BrokerIntegration, OrderStatus, RunStatus, TransactionStatus
from rebal_settlement_tracker.adapters.run_document import RUNS
from rebal_settlement_tracker.entrypoints.sweep import SettlementSweep
from rebal_settlement_tracker.service_layer.run_records import TIMEOUT_DUE_INDEX, instant_key

from .test_handlers import THURSDAY, WEDNESDAY, market_time

FRIDAY = THURSDAY + timedelta(days=1)
STARTED = market_time(WEDNESDAY, 14, 30)
DEADLINE = STARTED + timedelta(days=1)
FRIDAY_LATE = market_time(FRIDAY, 23)


async def started_run(h, events) -> None:  # type: ignore[no-untyped-def]
    await h.handle(events.ready())
    await h.handle(events.queued(STARTED))
    h.clock.set(STARTED)
    await h.handle(events.started(STARTED))
    await h.handle(events.filled(0, "10", "200", WEDNESDAY, at=STARTED))


async def test_queued_time_does_not_count_and_the_deadline_is_indexed(harness, run_events) -> None:
    h = harness(market_time(WEDNESDAY, 12))
    events = run_events()
    await h.handle(events.ready())
    h.clock.set(market_time(THURSDAY, 13))  # 25 hours QUEUED
    assert await h.handlers.time_out_due() == 0
    assert await h.store.query(RUNS, TIMEOUT_DUE_INDEX, instant_key(FRIDAY_LATE), op="le") == []

    await h.handle(events.started(market_time(THURSDAY, 13)))
    due = instant_key(market_time(FRIDAY, 13))
    assert await h.store.query(RUNS, TIMEOUT_DUE_INDEX, due) == [events.run_id]


async def test_a_run_without_every_outcome_by_its_deadline_ends_timeout(
    harness, run_events
) -> None:
    h = harness(market_time(WEDNESDAY, 12))
    events = run_events()
    await started_run(h, events)
    h.clock.set(DEADLINE - timedelta(seconds=1))
    assert await h.handlers.time_out_due() == 0

    h.clock.set(DEADLINE)
    sweep = SettlementSweep(h.handlers, interval_seconds=60)
    produced = await sweep.run_once()
    assert produced == 4  # status change, transaction.settled (AAPL, T+1), run.completed, .settled
    assert h.status_path() == ["QUEUED", "IN_PROGRESS", "TIMEOUT"]
    [completed] = h.completed()
    assert completed.status is RunStatus.TIMEOUT
    assert completed.reason == "no outcome by the deadline for 2 of 3 order(s)"
    assert completed.causation_id is None and completed.completed_at == DEADLINE
    assert [(o.leg, o.status, o.transaction_status, o.reason) for o in completed.failed_orders] == [
        (leg, OrderStatus.expired, TransactionStatus.EXPIRED, "expired: no outcome by the deadline")
        for leg in (1, 2)
    ]
    assert completed.holdings_delta == {"AAPL": Decimal(-10)}
    [settled] = h.run_settled()  # the 10 AAPL settled on Thursday: the portfolio is unblocked
    assert settled.status is RunStatus.TIMEOUT
    assert await h.store.query(RUNS, TIMEOUT_DUE_INDEX, instant_key(FRIDAY_LATE), op="le") == []
    assert await sweep.run_once() == 0  # once

    # a late fill: recorded, settled at its date, the run stays TIMEOUT and is not said again
    late = events.filled(1, "4", "400", THURSDAY, at=DEADLINE + timedelta(minutes=5))
    h.clock.set(DEADLINE + timedelta(minutes=6))
    assert await h.handle(late) is True
    run = await h.run(events.run_id)
    assert run.late_transactions[1].status == TransactionStatus.EXECUTED
    assert run.transactions[1].status == TransactionStatus.EXPIRED  # as the run ended
    h.clock.set(market_time(FRIDAY, 14))
    assert await sweep.run_once() == 1
    [msft] = [s for s in h.settled(events.run_id) if s.leg == 1]
    assert (msft.qty, msft.trade_date, msft.settlement_date) == (Decimal(4), THURSDAY, FRIDAY)
    assert len(h.completed()) == len(h.run_settled()) == 1
    assert h.status_path()[-1] == "TIMEOUT"
    assert await h.handle(late) is False


async def test_a_client_run_times_out_from_its_creation_and_settles_at_once(
    harness, run_events
) -> None:
    h = harness(market_time(WEDNESDAY, 12), run_timeout=timedelta(hours=2))
    events = run_events(broker_integration=BrokerIntegration.CLIENT)
    await h.handle(events.ready(occurred_at=market_time(WEDNESDAY, 12)))
    h.clock.set(market_time(WEDNESDAY, 14))
    assert await h.handlers.time_out_due() == 3  # status change, run.completed, run.settled
    assert h.status_path() == ["QUEUED", "TIMEOUT"]  # it never started: nothing was reported
    [completed], [settled] = h.completed(), h.run_settled()
    assert completed.status is settled.status is RunStatus.TIMEOUT
    assert completed.orders == () and len(completed.failed_orders) == 3
    assert await h.handlers.time_out_due() == 0


async def test_a_run_that_ended_before_its_deadline_is_left_alone(harness, run_events) -> None:
    h = harness(market_time(WEDNESDAY, 12), cycle_days=0)
    events = run_events()
    await started_run(h, events)
    await h.handle(events.filled(1, "4", "400", WEDNESDAY))
    await h.handle(events.filled(2, "3", "300", WEDNESDAY))
    assert h.status_path()[-1] == "COMPLETED_SUCCESS"
    h.clock.set(DEADLINE + timedelta(hours=1))
    commits = h.store.commits
    assert await h.handlers.time_out_due() == 0 and h.store.commits == commits
