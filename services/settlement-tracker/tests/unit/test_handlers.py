"""Handlers over the InMemoryStore with a fake clock and the real XNYS calendar: happy paths.
run.completed comes when every order is final, run.settled when every transaction is."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from rebal_schemas import (
    BrokerIntegration,
    CloseReason,
    OrderSide,
    OrderStatus,
    RunStatus,
    SkippedOrder,
    TransactionStatus,
)


def market_time(day: date, hour: int = 15, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=UTC)


WEDNESDAY = date(2026, 3, 4)
THURSDAY = date(2026, 3, 5)


def fill_all(events, trade_date: date):  # type: ignore[no-untyped-def]
    """Full fills of the default plan: sell 10 AAPL, buy 4 MSFT, buy $1000 of VTI."""
    return [
        events.filled(0, "10", "200.50", trade_date, at=market_time(trade_date, 15, 0)),
        events.filled(1, "4", "400.125", trade_date, at=market_time(trade_date, 15, 1)),
        events.filled(2, "3.3333", "300.01", trade_date, at=market_time(trade_date, 15, 2)),
    ]


# sells add, buys subtract, each leg rounded half-up to cents:
# +10 x 200.50 = 2005.00; -4 x 400.125 = -1600.50; -3.3333 x 300.01 = -1000.023333 -> -1000.02
EXPECTED_CASH = Decimal("2005.00") - Decimal("1600.50") - Decimal("1000.02")


async def test_fills_before_ready_are_kept_and_applied_when_the_plan_arrives(
    harness, run_events
) -> None:
    h = harness(market_time(WEDNESDAY, 16), cycle_days=0)
    events = run_events()
    for fill in fill_all(events, WEDNESDAY):
        await h.handle(fill)
    run = await h.run(events.run_id)
    assert not run.is_planned and len(run.pending) == 3 and not run.fills
    assert h.published() == []  # nothing can settle without the plan

    await h.handle(events.ready())
    assert len(h.settled(events.run_id)) == 3
    [completed] = h.completed(events.run_id)
    assert completed.status is RunStatus.COMPLETED_SUCCESS
    assert completed.cash_delta == EXPECTED_CASH
    assert h.status_path() == ["QUEUED", "IN_PROGRESS", "COMPLETED_SUCCESS"]
    assert len(h.run_settled(events.run_id)) == 1  # T+0: settled in the same write


async def test_t0_settles_and_completes_in_the_fill_handler_without_a_sweep(
    harness, run_events
) -> None:
    h = harness(market_time(WEDNESDAY, 16), cycle_days=0)
    events = run_events()
    await h.handle(events.ready())
    first, second, third = fill_all(events, WEDNESDAY)
    await h.handle(first)
    assert [s.leg for s in h.settled()] == [0] and h.completed() == []
    await h.handle(second)
    await h.handle(third)
    assert [s.settlement_date for s in h.settled()] == [WEDNESDAY] * 3
    [completed] = h.completed()
    assert [o.transaction_status for o in completed.orders] == [TransactionStatus.SETTLED] * 3
    assert len(h.run_settled()) == 1


async def test_partial_fill_then_expiry_completes_adjusted_and_settles_the_executed_part(
    harness, run_events
) -> None:
    h = harness(market_time(WEDNESDAY, 14))
    events = run_events()
    await h.handle(events.ready())
    await h.handle(events.filled(0, "10", "200.50", WEDNESDAY))
    await h.handle(events.filled(1, "4", "400.125", WEDNESDAY))
    await h.handle(events.filled(2, "1.5", "300.00", WEDNESDAY, final=False))
    assert h.completed() == []  # VTI is still open
    await h.handle(
        events.closed(
            2, CloseReason.expired, market_time(WEDNESDAY, 20), filled_qty="1.5", price="300.00"
        )
    )
    [completed] = h.completed()  # at the expiry, before anything settled
    assert completed.status is RunStatus.COMPLETED_ADJUSTED
    assert completed.reason == "1 order(s) partially executed"
    vti = completed.orders[2]
    assert (vti.status, vti.transaction_status, vti.filled_qty, vti.reason) == (
        OrderStatus.expired,
        TransactionStatus.EXPIRED,
        Decimal("1.5"),
        "expired",
    )
    assert vti.expired_at == market_time(WEDNESDAY, 20) and vti.filled_at is None
    assert completed.failed_orders == ()  # it filled something: an order, not a failed one
    # 2005.00 - 1600.50 - 1.5 x 300.00
    assert completed.cash_delta == Decimal("-45.50")
    assert completed.holdings_delta["VTI"] == Decimal("1.5")
    assert h.settled() == [] and h.run_settled() == []

    h.clock.set(market_time(THURSDAY))
    await h.handlers.settle_due()
    assert [(s.leg, s.qty) for s in h.settled()] == [
        (0, Decimal(10)),
        (1, Decimal(4)),
        (2, Decimal("1.5")),
    ]
    [run_settled] = h.run_settled()
    assert [t.status for t in run_settled.transactions] == [
        TransactionStatus.SETTLED,
        TransactionStatus.SETTLED,
        TransactionStatus.EXPIRED,  # its executed part settled
    ]
    assert run_settled.status is RunStatus.COMPLETED_ADJUSTED and len(h.completed()) == 1


async def test_close_before_its_fill_waits_for_the_executed_part(harness, run_events) -> None:
    h = harness(market_time(WEDNESDAY, 21), cycle_days=0)
    msft = run_events().order(1)  # buy 4 MSFT, leg 1
    events = run_events(orders=(msft,))
    await h.handle(events.ready())
    # The close says 3 of 4 executed, but the fill carrying the price has not arrived yet.
    await h.handle(
        events.closed(
            1, CloseReason.canceled, market_time(WEDNESDAY, 20), filled_qty="3", price="400"
        )
    )
    assert h.completed() == []
    assert (await h.run(events.run_id)).transactions[1].status == "CANCELLED"

    await h.handle(events.filled(1, "3", "400", WEDNESDAY, final=False))
    [settled] = h.settled()
    assert (settled.leg, settled.qty, settled.symbol) == (1, Decimal(3), msft.symbol)
    [completed] = h.completed()
    assert completed.status is RunStatus.COMPLETED_ADJUSTED
    assert completed.orders[0].status is OrderStatus.canceled
    assert completed.orders[0].transaction_status is TransactionStatus.CANCELLED
    assert completed.orders[0].canceled_at == market_time(WEDNESDAY, 20)
    assert completed.cash_delta == Decimal("-1200.00")
    assert len(h.run_settled()) == 1


async def test_friday_trade_settles_on_monday_not_over_the_weekend(harness, run_events) -> None:
    friday = date(2026, 3, 6)
    h = harness(market_time(friday, 20))
    events = run_events()
    await h.handle(events.ready())
    for fill in fill_all(events, friday):
        await h.handle(fill)

    for _ in ("saturday", "sunday"):
        h.clock.advance(timedelta(days=1))
        assert await h.handlers.settle_due() == 0
    h.clock.advance(timedelta(days=1))  # Monday 2026-03-09
    await h.handlers.settle_due()
    assert {s.settlement_date for s in h.settled()} == {date(2026, 3, 9)}
    assert len(h.completed()) == 1
    assert h.run_settled()[0].settled_at == h.clock.now()


async def test_trade_before_good_friday_settles_the_next_monday(harness, run_events) -> None:
    thursday, good_friday, monday = date(2026, 4, 2), date(2026, 4, 3), date(2026, 4, 6)
    h = harness(market_time(thursday, 19))
    events = run_events()
    await h.handle(events.ready())
    for fill in fill_all(events, thursday):
        await h.handle(fill)

    h.clock.set(market_time(good_friday, 18))  # a weekday, but the NYSE is closed
    assert await h.handlers.settle_due() == 0
    h.clock.set(market_time(monday, 14))
    await h.handlers.settle_due()
    assert {s.settlement_date for s in h.settled()} == {monday}
    assert len(h.completed()) == len(h.run_settled()) == 1


async def test_today_is_the_exchange_date_not_the_utc_date(harness, run_events) -> None:
    # 02:00 UTC on Thursday is still Wednesday evening in New York: a T+1 trade of Wednesday
    # must not settle yet.
    h = harness(market_time(WEDNESDAY, 15))
    events = run_events()
    await h.handle(events.ready())
    for fill in fill_all(events, WEDNESDAY):
        await h.handle(fill)
    h.clock.set(market_time(THURSDAY, 2))
    assert await h.handlers.settle_due() == 0
    h.clock.set(market_time(THURSDAY, 5))  # 00:00/01:00 in New York: Thursday there too
    assert await h.handlers.settle_due() == 4  # three settlements and run.settled


async def test_client_integration_fills_are_handled_like_platform_ones(harness, run_events) -> None:
    h = harness(market_time(WEDNESDAY, 16), cycle_days=0)
    events = run_events(broker_integration=BrokerIntegration.CLIENT)
    await h.handle(events.ready())
    for fill in fill_all(events, WEDNESDAY):
        await h.handle(fill.model_copy(update={"producer": "client-middleware"}))
    [completed] = h.completed()
    assert completed.broker_integration is BrokerIntegration.CLIENT
    assert completed.status is RunStatus.COMPLETED_SUCCESS
    assert completed.cash_delta == EXPECTED_CASH


async def test_skipped_orders_make_the_run_adjusted_and_are_reported(harness, run_events) -> None:
    skipped = SkippedOrder(
        symbol="TSLA",
        side=OrderSide.buy,
        notional=Decimal("0.40"),
        reason="ORDER_LESS_THAN_MIN_NOTIONAL",
    )
    h = harness(market_time(WEDNESDAY, 16), cycle_days=0)
    events = run_events(skipped=(skipped,))
    await h.handle(events.ready())
    for fill in fill_all(events, WEDNESDAY):
        await h.handle(fill)
    [completed] = h.completed()
    assert completed.status is RunStatus.COMPLETED_ADJUSTED
    assert completed.reason == "1 order(s) skipped"
    assert completed.skipped_orders == (skipped,)


async def test_every_order_rejected_is_an_error_run_without_settlements(
    harness, run_events
) -> None:
    h = harness(market_time(WEDNESDAY, 16))
    events = run_events()
    await h.handle(events.ready())
    for leg in (0, 1, 2):
        await h.handle(events.closed(leg, CloseReason.rejected, market_time(WEDNESDAY, 16)))
    [completed] = h.completed()
    assert completed.status is RunStatus.ERROR
    assert completed.reason == "none of the 3 order(s) executed"
    assert completed.cash_delta == 0 and completed.holdings_delta == {}
    assert completed.last_execution_at is None
    assert completed.orders == ()
    assert {o.status for o in completed.failed_orders} == {OrderStatus.rejected}
    assert {o.transaction_status for o in completed.failed_orders} == {
        TransactionStatus.NOT_EXECUTED
    }
    assert [o.failed_at for o in completed.failed_orders] == [market_time(WEDNESDAY, 16)] * 3
    assert h.settled() == []
    [run_settled] = h.run_settled()  # nothing to settle: settled as it completed
    assert run_settled.status is RunStatus.ERROR and run_settled.settled_at == h.clock.now()
    assert h.status_path() == ["QUEUED", "IN_PROGRESS", "ERROR"]


async def test_a_plan_with_no_orders_completes_at_once(harness, run_events) -> None:
    skipped = SkippedOrder(
        symbol="TSLA",
        side=OrderSide.buy,
        notional=Decimal("0.40"),
        reason="ORDER_LESS_THAN_MIN_NOTIONAL",
    )
    h = harness(market_time(WEDNESDAY, 16))
    events = run_events(orders=(), skipped=(skipped,))
    await h.handle(events.ready())
    [completed] = h.completed()
    assert completed.status is RunStatus.COMPLETED_ADJUSTED and completed.orders == ()
    assert h.status_path() == ["QUEUED", "COMPLETED_ADJUSTED"]  # it never started
    assert len(h.run_settled()) == 1
