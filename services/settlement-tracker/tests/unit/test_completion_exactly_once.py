"""run.completed is published exactly once, with the same content, whatever the arrival order,
the redeliveries and the sweeps in between."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rebal_schemas import CloseReason, Event, RunStatus, TransactionStatus
from rebal_settlement_tracker.domain import UnblockOn

FRIDAY = date(2026, 3, 6)


def market_time(day: date, hour: int = 15, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=UTC)


def scenario_events(events) -> list[Event]:  # type: ignore[no-untyped-def]
    """Ready, a partial then a full fill (leg 0), a full fill (leg 1), and a partial fill that
    expires (leg 2): each fact once, plus two redeliveries."""
    partial = events.filled(0, "4", "200.00", FRIDAY, final=False, at=market_time(FRIDAY, 15))
    full = events.filled(0, "10", "200.60", FRIDAY, at=market_time(FRIDAY, 15, 5))
    msft = events.filled(1, "4", "400.125", FRIDAY, at=market_time(FRIDAY, 15, 7))
    vti = events.filled(2, "2.5", "300.00", FRIDAY, final=False, at=market_time(FRIDAY, 16))
    expired = events.closed(
        2, CloseReason.expired, market_time(FRIDAY, 21), filled_qty="2.5", price="300.00"
    )
    ready = events.ready()
    return [ready, partial, full, msft, vti, expired, full, ready]


def run_scenario(harness, events, order: list[int], sweep_after: set[int], unblock_on):  # type: ignore[no-untyped-def]
    async def scenario():  # type: ignore[no-untyped-def]
        h = harness(market_time(FRIDAY, 14), unblock_on=unblock_on)
        inputs = scenario_events(events)
        for step, index in enumerate(order):
            await h.handle(inputs[index])
            if step in sweep_after:  # the clock moves on between deliveries: Fri -> Mon
                h.clock.advance(timedelta(days=1))
                await h.handlers.settle_due()
        h.clock.set(market_time(date(2026, 3, 9), 14))  # Monday: everything is due
        await h.handlers.settle_due()
        await h.handlers.settle_due()
        return h.completed(), h.settled()

    # A private loop: the test is synchronous (hypothesis) and must not touch pytest-asyncio's.
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(scenario())
    finally:
        loop.close()


def canonical(completed, unblock_on: UnblockOn) -> tuple[object, ...]:  # type: ignore[no-untyped-def]
    orders = completed.orders
    if unblock_on is UnblockOn.EXECUTED:
        # The run completes at execution; whether a leg had also settled by then depends on how
        # far the clock had moved, not on the order of the events.
        orders = tuple(
            o.model_copy(update={"status": TransactionStatus.EXECUTED})
            if o.status is TransactionStatus.SETTLED
            else o
            for o in orders
        )
    return (
        completed.status,
        orders,
        completed.cash_delta,
        completed.holdings_delta,
        completed.last_execution_at,
    )


# The fixtures are factories: sharing them between examples is safe.
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    order=st.permutations(list(range(8))),
    sweep_after=st.sets(st.integers(0, 7), max_size=3),
    unblock_on=st.sampled_from(list(UnblockOn)),
)
def test_run_completed_once_with_the_same_content_in_any_order(
    harness, run_events, order, sweep_after, unblock_on
) -> None:
    events = run_events()
    reference_completed, _ = run_scenario(harness, events, list(range(8)), set(), unblock_on)
    completed, settled = run_scenario(harness, events, order, sweep_after, unblock_on)

    assert len(completed) == 1
    assert canonical(completed[0], unblock_on) == canonical(reference_completed[0], unblock_on)
    assert completed[0].status is RunStatus.COMPLETED_ADJUSTED
    # +10 x 200.60 - 4 x 400.125 - 2.5 x 300.00 = 2006.00 - 1600.50 - 750.00
    assert completed[0].cash_delta == Decimal("-344.50")
    assert sorted((s.leg, s.qty) for s in settled) == [
        (0, Decimal(10)),
        (1, Decimal(4)),
        (2, Decimal("2.5")),
    ]
