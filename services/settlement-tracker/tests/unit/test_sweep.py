"""The clock-driven sweep: finds due runs through the `settle_due` index, pages, loops."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time

from rebal_settlement_tracker.adapters.run_document import RUNS
from rebal_settlement_tracker.entrypoints.sweep import SettlementSweep
from rebal_settlement_tracker.service_layer.run_records import SETTLE_DUE_INDEX

WEDNESDAY, THURSDAY = date(2026, 3, 4), date(2026, 3, 5)


def market_time(day: date, hour: int = 15) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


async def executed_runs(h, run_events, count: int) -> list[str]:  # type: ignore[no-untyped-def]
    run_ids = []
    for _ in range(count):
        events = run_events(orders=run_events().orders[:1])
        await h.handle(events.ready())
        await h.handle(events.filled(0, "10", "200", WEDNESDAY))
        run_ids.append(events.run_id)
    return run_ids


async def test_index_holds_the_next_settlement_date_and_is_cleared_when_done(
    harness, run_events
) -> None:
    h = harness(market_time(WEDNESDAY))
    [run_id] = await executed_runs(h, run_events, 1)
    assert await h.store.query(RUNS, SETTLE_DUE_INDEX, THURSDAY.isoformat()) == [run_id]
    h.clock.set(market_time(THURSDAY))
    await h.handlers.settle_due()
    assert await h.store.query(RUNS, SETTLE_DUE_INDEX, THURSDAY.isoformat(), op="le") == []


async def test_sweep_before_the_date_writes_nothing(harness, run_events) -> None:
    h = harness(market_time(WEDNESDAY))
    await executed_runs(h, run_events, 3)
    commits = h.store.commits
    assert await h.handlers.settle_due() == 0
    assert h.store.commits == commits


async def test_sweep_pages_through_every_due_run(harness, run_events) -> None:
    h = harness(market_time(WEDNESDAY), sweep_page=2)
    run_ids = await executed_runs(h, run_events, 5)
    h.clock.set(market_time(THURSDAY))
    assert await h.handlers.settle_due() == 10  # a settlement and a completion per run
    assert sorted(e.run_id for e in h.completed()) == sorted(run_ids)


async def test_sweep_loop_runs_until_stopped_and_survives_a_failing_round(
    harness, run_events
) -> None:
    h = harness(market_time(THURSDAY))
    calls = {"n": 0}
    real = h.handlers.settle_due
    enough = asyncio.Event()

    async def flaky() -> int:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("store unreachable (injected)")
        if calls["n"] >= 4:
            enough.set()
        return await real()

    h.handlers.settle_due = flaky  # type: ignore[method-assign]
    sweep = SettlementSweep(h.handlers, interval_seconds=0.01)
    await sweep.start()
    await asyncio.wait_for(enough.wait(), 10)
    await sweep.stop()
    rounds = sweep.rounds
    await asyncio.sleep(0.05)
    assert sweep.rounds == rounds  # stopped means stopped
    assert rounds >= 2  # the failed round did not end the loop
