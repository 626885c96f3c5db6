"""The run lifecycle on the wire: run.created at the plan, IN_PROGRESS at the first order event,
the final status with run.completed (Alpaca's run object) once every order is final, run.settled
once every transaction is; each once, under ids derived from the run; redeliveries publish
nothing twice."""

from __future__ import annotations

from decimal import Decimal

from rebal_schemas import (
    BrokerIntegration,
    CloseReason,
    OrderStatus,
    PortfolioRunType,
    RunCreated,
    RunInitiator,
    RunStatus,
    RunStatusChanged,
    RunType,
    TransactionStatus,
    Weight,
)
from rebal_settlement_tracker.service_layer.messages import event_id_for

from .test_handlers import EXPECTED_CASH, THURSDAY, WEDNESDAY, fill_all, market_time

WEIGHTS = (
    Weight(type="asset", symbol="AAPL", percent=Decimal(60)),
    Weight(type="cash", percent=Decimal(40)),
)


async def test_run_created_at_the_plan_with_alpacas_run_fields(harness, run_events) -> None:
    h = harness(market_time(WEDNESDAY, 14))
    events = run_events()
    ready = events.ready(
        run_type=RunType.withdrawal,
        initiated_from=RunInitiator.api,
        weights=WEIGHTS,
        amount=Decimal("500.00"),
        occurred_at=market_time(WEDNESDAY, 13),
    )
    await h.handle(ready)

    [created] = h.statuses(events.run_id)
    assert isinstance(created, RunCreated) and created.status is RunStatus.QUEUED
    assert created.type is PortfolioRunType.partial_liquidation
    assert (created.initiated_from, created.weights, created.amount) == (
        RunInitiator.api,
        WEIGHTS,
        Decimal("500.00"),
    )
    assert created.created_at == created.updated_at == created.occurred_at == ready.occurred_at
    assert (created.completed_at, created.canceled_at, created.reason) == (None, None, None)
    assert (created.account_id, created.portfolio_id) == (events.account_id, events.portfolio_id)
    assert created.causation_id == ready.event_id and created.correlation_id == events.run_id
    assert created.event_id == event_id_for(events.run_id, "run.created")


async def test_in_progress_at_the_first_fill_and_the_final_status_with_run_completed(
    harness, run_events
) -> None:
    h = harness(market_time(WEDNESDAY, 14))
    events = run_events()
    await h.handle(events.ready())
    first, second, third = fill_all(events, WEDNESDAY)

    h.clock.set(market_time(WEDNESDAY, 15, 30))
    await h.handle(first)
    started = h.statuses(events.run_id)[-1]
    assert isinstance(started, RunStatusChanged)
    assert (started.previous_status, started.status) == (RunStatus.QUEUED, RunStatus.IN_PROGRESS)
    assert started.updated_at == market_time(WEDNESDAY, 15, 30)
    assert started.causation_id == first.event_id
    await h.handle(second)
    assert h.status_path(events.run_id) == ["QUEUED", "IN_PROGRESS"]  # started once

    h.clock.set(market_time(WEDNESDAY, 16))
    await h.handle(
        third.model_copy(update={"filled_qty": Decimal(1), "status": "partially_filled"})
    )
    await h.handle(
        events.closed(2, CloseReason.canceled, market_time(WEDNESDAY, 16), filled_qty="1")
    )
    ended = h.statuses(events.run_id)[-1]
    [completed] = h.completed(events.run_id)
    assert isinstance(ended, RunStatusChanged)
    assert (ended.previous_status, ended.status) == (RunStatus.IN_PROGRESS, completed.status)
    assert ended.status is RunStatus.COMPLETED_ADJUSTED
    assert ended.reason == completed.reason == "1 order(s) partially executed"
    assert ended.completed_at == completed.completed_at == market_time(WEDNESDAY, 16)
    assert ended.event_id == event_id_for(events.run_id, "run.status_changed:COMPLETED_ADJUSTED")
    assert completed.event_id == event_id_for(events.run_id, "run.completed")
    # the status change comes just before run.completed, and nothing is settled yet (T+1)
    kinds = [e.event_type for e in h.published()]
    assert kinds[-2:] == ["run.status_changed", "run.completed"]
    assert "transaction.settled" not in kinds


async def test_redeliveries_and_replays_publish_nothing_twice(harness, run_events) -> None:
    h = harness(market_time(WEDNESDAY, 16), cycle_days=0)
    events = run_events()
    ready, fills = events.ready(), fill_all(events, WEDNESDAY)
    for event in (ready, *fills):
        await h.handle(event)
    published = [e.event_id for e in h.published()]
    assert len(published) == 1 + 2 + 3 + 1 + 1  # created, 2 changes, 3 settled, completed, settled

    for event in (ready, *fills):  # Kafka redelivers: the inbox drops them
        assert await h.handle(event) is False
    for event in (ready, *fills):  # the same facts under new ids: no-ops
        assert await h.handle(event.model_copy(update={"event_id": f"{event.event_id}-2"}))
    h.clock.set(market_time(WEDNESDAY, 20))
    assert await h.handlers.settle_due() == 0
    assert [e.event_id for e in h.published()] == published
    assert len(set(published)) == len(published)


async def test_a_t1_run_completes_at_execution_and_settles_on_the_next_session(
    harness, run_events
) -> None:
    h = harness(market_time(WEDNESDAY, 14))
    events = run_events()
    ready = events.ready()
    await h.handle(ready)
    fills = fill_all(events, WEDNESDAY)
    for fill in fills:
        await h.handle(fill)

    # every order is final: run.completed now, with Alpaca's run fields; nothing settled (T+1)
    assert h.settled() == [] and h.run_settled() == []
    [completed] = h.completed(events.run_id)
    assert completed.status is RunStatus.COMPLETED_SUCCESS and completed.reason is None
    assert completed.id == completed.optimization_id == completed.run_id == events.run_id
    assert completed.type is PortfolioRunType.full_rebalance
    assert completed.initiated_from is RunInitiator.system
    assert completed.portfolio_id == events.portfolio_id
    assert completed.account_id == events.account_id
    assert completed.broker_integration is BrokerIntegration.PLATFORM
    assert completed.created_at == ready.occurred_at
    assert completed.completed_at == completed.updated_at == completed.occurred_at == h.clock.now()
    assert completed.cash_delta == EXPECTED_CASH
    assert completed.holdings_delta == {
        "AAPL": Decimal("-10"),
        "MSFT": Decimal("4"),
        "VTI": Decimal("3.3333"),
    }
    assert completed.last_execution_at == market_time(WEDNESDAY, 15, 2)
    assert completed.correlation_id == events.run_id and completed.producer == "settlement-tracker"
    assert completed.causation_id == fills[-1].event_id
    assert completed.failed_orders == () and completed.skipped_orders == ()
    assert [(o.leg, o.status, o.transaction_status) for o in completed.orders] == [
        (leg, OrderStatus.filled, TransactionStatus.EXECUTED) for leg in (0, 1, 2)
    ]
    vti = completed.orders[2]
    assert (vti.notional, vti.qty, vti.filled_qty) == (Decimal("1000.00"), None, Decimal("3.3333"))
    assert vti.client_order_id == f"{events.run_id}-2"
    assert vti.filled_at == vti.updated_at == market_time(WEDNESDAY, 15, 2)
    assert await h.handlers.settle_due() == 0  # still Wednesday

    h.clock.set(market_time(THURSDAY, 13))
    assert await h.handlers.settle_due() == 4  # three settlements + run.settled

    settled = h.settled(events.run_id)
    assert [(s.leg, s.qty, s.settlement_date) for s in settled] == [
        (0, Decimal("10"), THURSDAY),
        (1, Decimal("4"), THURSDAY),
        (2, Decimal("3.3333"), THURSDAY),
    ]
    assert all(s.trade_date == WEDNESDAY and s.correlation_id == events.run_id for s in settled)
    [run_settled] = h.run_settled(events.run_id)
    assert run_settled.status is RunStatus.COMPLETED_SUCCESS
    assert (run_settled.optimization_id, run_settled.account_id) == (events.run_id, "acct-1")
    assert run_settled.settled_at == run_settled.occurred_at == h.clock.now()
    assert [(t.leg, t.status, t.filled_qty) for t in run_settled.transactions] == [
        (0, TransactionStatus.SETTLED, Decimal(10)),
        (1, TransactionStatus.SETTLED, Decimal(4)),
        (2, TransactionStatus.SETTLED, Decimal("3.3333")),
    ]
    assert (run_settled.cash_delta, run_settled.holdings_delta) == (
        completed.cash_delta,
        completed.holdings_delta,
    )
    assert run_settled.last_execution_at == completed.last_execution_at
    assert run_settled.causation_id is None  # the sweep's doing

    assert await h.handlers.settle_due() == 0  # nothing left: the run left the index
    assert len(h.completed()) == len(h.run_settled()) == 1
