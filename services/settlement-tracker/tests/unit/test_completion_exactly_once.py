"""run.created, every run.status_changed, run.completed and run.settled are published exactly
once, with the same content, whatever the arrival order, the redeliveries and the sweeps in
between."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rebal_schemas import CloseReason, Event, RunStatus, TransactionStatus

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


def run_scenario(harness, events, order: list[int], sweep_after: set[int]):  # type: ignore[no-untyped-def]
    async def scenario():  # type: ignore[no-untyped-def]
        h = harness(market_time(FRIDAY, 14))
        inputs = scenario_events(events)
        for step, index in enumerate(order):
            await h.handle(inputs[index])
            if step in sweep_after:  # the clock moves on between deliveries: Fri -> Mon
                h.clock.advance(timedelta(days=1))
                await h.handlers.settle_due()
        h.clock.set(market_time(date(2026, 3, 9), 14))  # Monday: everything is due
        await h.handlers.settle_due()
        await h.handlers.settle_due()
        return h

    # A private loop: the test is synchronous (hypothesis) and must not touch pytest-asyncio's.
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(scenario())
    finally:
        loop.close()


def canonical(completed) -> tuple[object, ...]:  # type: ignore[no-untyped-def]
    # The run completes at execution; whether a leg had also settled by then depends on how far
    # the clock had moved, not on the order of the events.
    orders = tuple(
        o.model_copy(update={"transaction_status": TransactionStatus.EXECUTED})
        if o.transaction_status is TransactionStatus.SETTLED
        else o
        for o in completed.orders
    )
    return (
        completed.status,
        completed.reason,
        orders,
        completed.failed_orders,
        completed.cash_delta,
        completed.holdings_delta,
        completed.last_execution_at,
        completed.event_id,
    )


# The fixtures are factories: sharing them between examples is safe.
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(order=st.permutations(list(range(8))), sweep_after=st.sets(st.integers(0, 7), max_size=3))
def test_every_run_event_once_with_the_same_content_in_any_order(
    harness, run_events, order, sweep_after
) -> None:
    events = run_events()
    reference = run_scenario(harness, events, list(range(8)), set())
    h = run_scenario(harness, events, order, sweep_after)

    [completed], [run_settled] = h.completed(), h.run_settled()
    assert canonical(completed) == canonical(reference.completed()[0])
    assert completed.status is RunStatus.COMPLETED_ADJUSTED
    # +10 x 200.60 - 4 x 400.125 - 2.5 x 300.00 = 2006.00 - 1600.50 - 750.00
    assert completed.cash_delta == Decimal("-344.50")
    [reference_settled] = reference.run_settled()
    assert run_settled.model_copy(update={"settled_at": None, "occurred_at": None}) == (
        reference_settled.model_copy(
            update={
                "settled_at": None,
                "occurred_at": None,
                "recorded_at": run_settled.recorded_at,
                "causation_id": run_settled.causation_id,
            }
        )
    )
    assert h.status_path() == ["QUEUED", "IN_PROGRESS", "COMPLETED_ADJUSTED"]
    assert [e.event_id for e in h.statuses()] == [e.event_id for e in reference.statuses()]
    assert sorted((s.leg, s.qty) for s in h.settled()) == [
        (0, Decimal(10)),
        (1, Decimal(4)),
        (2, Decimal("2.5")),
    ]
    assert sorted(s.event_id for s in h.settled()) == sorted(
        s.event_id for s in reference.settled()
    )
