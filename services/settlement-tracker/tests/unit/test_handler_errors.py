"""Duplicates are no-ops that still record the event id; contradictions are PoisonMessages."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal

import pytest

from rebal_schemas import CloseReason, PoisonMessage
from rebal_settlement_tracker.adapters.run_document import RUNS

WEDNESDAY = date(2026, 3, 4)


def market_time(day: date, hour: int = 15, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=UTC)


async def version(h, run_id: str) -> int:  # type: ignore[no-untyped-def]
    doc = await h.store.load(RUNS, run_id)
    return doc.version if doc else 0


async def test_redelivered_event_is_skipped_by_the_inbox(harness, run_events) -> None:
    h = harness(market_time(WEDNESDAY, 16), cycle_days=0)
    events = run_events()
    ready, fill = events.ready(), events.filled(0, "10", "200.50", WEDNESDAY)
    assert await h.handle(ready) is True
    assert await h.handle(fill) is True
    before = await version(h, events.run_id)

    assert await h.handle(fill) is False
    assert await h.handle(ready) is False
    assert await version(h, events.run_id) == before
    assert len(h.settled()) == 1


async def test_replayed_fact_with_a_new_event_id_is_a_recorded_no_op(harness, run_events) -> None:
    h = harness(market_time(WEDNESDAY, 16), cycle_days=0)
    events = run_events()
    await h.handle(events.ready())
    await h.handle(events.filled(0, "10", "200.50", WEDNESDAY))
    published = len(h.published())

    replay = events.filled(0, "10", "200.50", WEDNESDAY)  # same fact, new event id
    stale = events.filled(0, "6", "200.00", WEDNESDAY, final=False)  # older cumulative fill
    same_plan = events.ready()
    for event in (replay, stale, same_plan):
        assert await h.handle(event) is True
        doc = await h.store.load(RUNS, events.run_id)
        assert doc is not None and doc.has_processed(event.event_id)
    assert len(h.published()) == published
    run = await h.run(events.run_id)
    assert run.fills[0].cum_qty == Decimal(10)


async def test_fill_for_a_leg_the_plan_does_not_contain_is_poison(harness, run_events) -> None:
    h = harness(market_time(WEDNESDAY, 16))
    events = run_events()
    await h.handle(events.ready())
    before = await version(h, events.run_id)
    with pytest.raises(PoisonMessage, match="leg 7 is not in the plan"):
        await h.handle(events.filled(7, "1", "10", WEDNESDAY))
    assert await version(h, events.run_id) == before


async def test_fill_that_would_change_a_completed_run_is_poison(harness, run_events) -> None:
    h = harness(market_time(WEDNESDAY, 21), cycle_days=0)
    events = run_events()
    await h.handle(events.ready())
    await h.handle(events.filled(0, "10", "200.50", WEDNESDAY))
    await h.handle(events.filled(1, "4", "400", WEDNESDAY))
    await h.handle(events.filled(2, "2", "300", WEDNESDAY, final=False))
    await h.handle(
        events.closed(2, CloseReason.expired, market_time(WEDNESDAY, 20), filled_qty="2")
    )
    assert len(h.completed()) == 1

    with pytest.raises(PoisonMessage, match="already"):
        await h.handle(events.filled(2, "3", "300", WEDNESDAY, final=False))
    # a replay of what run.completed already reported stays a quiet no-op
    assert await h.handle(events.filled(1, "4", "400", WEDNESDAY)) is True
    assert len(h.completed()) == 1


async def test_a_different_plan_for_a_known_run_is_poison(harness, run_events) -> None:
    h = harness(market_time(WEDNESDAY, 16))
    events = run_events()
    await h.handle(events.ready())
    with pytest.raises(PoisonMessage, match="different plan"):
        await h.handle(events.ready(orders=events.orders[:1]))


async def test_fill_for_another_symbol_than_the_planned_leg_is_poison(harness, run_events) -> None:
    h = harness(market_time(WEDNESDAY, 16))
    events = run_events()
    await h.handle(events.ready())
    with pytest.raises(PoisonMessage, match="plan has sell AAPL"):
        await h.handle(events.filled(0, "10", "200", WEDNESDAY, symbol="MSFT"))


async def test_event_naming_another_portfolio_than_the_run_is_poison(harness, run_events) -> None:
    h = harness(market_time(WEDNESDAY, 16))
    events = run_events()
    await h.handle(events.filled(0, "10", "200", WEDNESDAY))
    with pytest.raises(PoisonMessage, match="belongs to"):
        await h.handle(events.ready(portfolio_id="someone-else"))


async def test_trade_date_outside_the_calendar_is_poison_before_anything_is_stored(
    harness, run_events
) -> None:
    h = harness(market_time(WEDNESDAY, 16))
    events = run_events()
    with pytest.raises(PoisonMessage, match="trade date 2099-01-02"):
        await h.handle(events.filled(0, "10", "200", date(2099, 1, 2)))
    assert await h.store.load(RUNS, events.run_id) is None
