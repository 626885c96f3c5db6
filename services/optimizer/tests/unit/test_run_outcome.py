"""run.completed (v2) and run.settled through the handlers over the in-memory store: the trades
applied once at completion, the unblock at settlement (default) or at execution, the same state
whatever the order of arrival, duplicates, and the CLIENT integration's deadline (fake clock)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal as D
from typing import Any

import pytest

from rebal_schemas import (
    OptimizationCreated,
    PoisonMessage,
    RunCompleted,
    RunSettled,
    TransactionSettled,
)

from ..run_events import completed, settled  # type: ignore[import-not-found]
from .conftest import Env, held

TRADES = {"SPY": D(60), "TLT": D(70)}


def created(events: list[Any]) -> OptimizationCreated:
    (event,) = [e for e in events if isinstance(e, OptimizationCreated)]
    return event


async def blocked_run(env: Env, integration: str = "PLATFORM", **kw: Any) -> RunCompleted:
    """A funded portfolio blocked by its first rebalance, and that run's run.completed."""
    await env.funded("p1", broker_integration=integration)
    first = created(env.new())
    return completed(
        first,
        integration=integration,
        holdings_delta=TRADES,
        cash_delta=D("-9500"),
        last_execution_at=env.clock.now() + timedelta(minutes=5),
        completed_at=env.clock.now() + timedelta(minutes=6),
        **kw,
    )


async def test_unblock_waits_for_run_settled_by_default(env: Env) -> None:
    run = await blocked_run(env)
    assert await env.handlers.run_completed(run) is not None
    record = await env.record("p1")
    assert record.portfolio.holdings == TRADES and record.portfolio.cash == D(500)
    assert record.portfolio.blocked_by == run.optimization_id
    assert record.portfolio.last_rebalanced_at == run.completed_at.date()  # the cooldown's start
    env.clock.advance(timedelta(days=1))
    await env.deposit("p1", "1000")
    assert held(env.new()) == ["BLOCKED"]  # still blocked: settlement goes on
    await env.handlers.run_settled(settled(run))
    record = await env.record("p1")
    assert record.portfolio.blocked_by is None and record.portfolio.holdings == TRADES
    assert record.ready_event is None


async def test_unblock_on_execution_unblocks_at_run_completed(make_env: Callable[..., Env]) -> None:
    env = make_env(unblock_on="execution")
    run = await blocked_run(env)
    await env.handlers.run_completed(run)
    record = await env.record("p1")
    assert record.portfolio.blocked_by is None and record.portfolio.holdings == TRADES
    assert await env.handlers.run_settled(settled(run)) is None  # nothing left to do
    assert (await env.record("p1")).portfolio == record.portfolio


async def state(env: Env) -> tuple[Any, ...]:
    record = await env.record("p1")
    return record.portfolio, record.recent_runs, record.ready_event


async def outcome(
    env: Env, run: RunCompleted, order: list[str], *, duplicates: bool = False
) -> tuple[Any, ...]:
    """The state after run.completed and run.settled in `order`; with `duplicates`, each also
    redelivered (the inbox drops it) and re-reported under a new event id: neither may change
    anything."""
    events: dict[str, RunCompleted | RunSettled] = {"completed": run, "settled": settled(run)}
    for name in order:
        event = events[name]
        handle: Any = getattr(env.handlers, f"run_{name}")
        await handle(event)
        if duplicates:
            before = await state(env)
            assert await handle(event) is None
            assert await handle(event.model_copy(update={"event_id": "re-" + name})) is None
            assert await state(env) == before
    return await state(env)


@pytest.mark.parametrize("unblock_on", ["settlement", "execution"])
@pytest.mark.parametrize("integration", ["PLATFORM", "CLIENT"])
async def test_settled_before_completed_gives_the_same_final_state(
    make_env: Callable[..., Env], integration: str, unblock_on: str
) -> None:
    finals = []
    for order in (["completed", "settled"], ["settled", "completed"]):
        env = make_env(unblock_on=unblock_on)
        run = await blocked_run(env, integration)
        portfolio, recent_runs, ready_event = await outcome(env, run, order)
        assert recent_runs == (run.optimization_id,) and ready_event is None
        assert env.new() == []  # a run's outcome publishes nothing
        finals.append(portfolio)
    assert finals[0] == finals[1]
    assert finals[0].blocked_by is None and finals[0].holdings == TRADES
    assert finals[0].cash == D(500) and finals[0].last_rebalanced_at == run.completed_at.date()


@pytest.mark.parametrize("order", [["completed", "settled"], ["settled", "completed"]])
async def test_duplicates_change_nothing(make_env: Callable[..., Env], order: list[str]) -> None:
    with_duplicates, once = make_env(), make_env()
    run = await blocked_run(with_duplicates)
    final = await outcome(with_duplicates, run, order, duplicates=True)
    assert final[0] == (await outcome(once, await blocked_run(once), order))[0]
    late = run.model_copy(update={"event_id": "late-re-report"})
    assert await with_duplicates.handlers.run_completed(late) is None


async def test_run_settled_for_an_unknown_portfolio_is_a_dead_letter(env: Env) -> None:
    run = await blocked_run(env)
    with pytest.raises(PoisonMessage, match="unknown portfolio"):
        await env.handlers.run_settled(settled(run, portfolio_id="nobody"))


# -- CLIENT integration: the client's holdings, with a deadline -----------------------------------


async def fresh_prices(env: Env) -> None:
    await env.price("SPY", "100")
    await env.price("TLT", "50")


async def client_after_its_run(env: Env) -> RunCompleted:
    run = await blocked_run(env, "CLIENT")
    await env.handlers.run_completed(run)
    await env.handlers.run_settled(settled(run))
    record = await env.record("p1")
    assert record.portfolio.awaiting_client_holdings_after == run.last_execution_at
    assert record.portfolio.holdings == TRADES  # its own book, not used while it waits
    return run


async def test_client_holdings_late_after_the_deadline(env: Env) -> None:
    run = await client_after_its_run(env)
    deadline = run.last_execution_at + timedelta(days=1)
    env.clock.set(deadline - timedelta(seconds=1))
    await fresh_prices(env)
    await env.deposit("p1", "1000")
    assert held(env.new()) == ["AWAITING_CLIENT_HOLDINGS"]  # still waiting for the client
    env.clock.set(deadline)
    await fresh_prices(env)
    await env.deposit("p1", "1000")
    opt = created(env.new())
    line = next(c for c in opt.decision if c.name == "client_holdings_late")
    assert line.met and line.threshold == deadline.isoformat()
    assert opt.reasons[-1].code == "CLIENT_HOLDINGS_LATE"
    assert opt.run_type == "invest_cash" and opt.is_recommended  # its own book: 2500 cash
    assert all(o.side == "buy" for o in opt.orders)
    record = await env.record("p1")
    assert record.portfolio.awaiting_client_holdings_after is None  # proceeded: said once
    assert record.portfolio.holdings == TRADES


async def test_client_holdings_in_time_end_the_wait_without_a_late_line(env: Env) -> None:
    run = await client_after_its_run(env)
    env.clock.advance(timedelta(hours=20))
    await fresh_prices(env)
    await env.holdings("p1", "1500", as_of=env.clock.now(), SPY="60", TLT="70")
    opt = created(env.new())
    assert opt.run_type == "invest_cash"
    assert not any(c.name == "client_holdings_late" for c in opt.decision)
    assert all(r.code != "CLIENT_HOLDINGS_LATE" for r in opt.reasons)
    assert (await env.record("p1")).portfolio.holdings_as_of > run.last_execution_at


async def test_no_deadline_waits_for_the_client_forever(make_env: Callable[..., Env]) -> None:
    env = make_env(client_holdings_wait=None)
    await client_after_its_run(env)
    env.clock.advance(timedelta(days=30))
    await fresh_prices(env)
    await env.deposit("p1", "1000")
    assert held(env.new()) == ["AWAITING_CLIENT_HOLDINGS"]


async def test_a_batch_of_the_run_topics_mixed_is_applied_as_one_at_a_time_and_once(
    env: Env,
) -> None:
    # What the optimizer's one consumer of run.completed, run.settled and transaction.settled
    # hands it: a run's settled transactions (not late: read and dropped), its end, a late fill.
    run = await blocked_run(env)
    on_time = TransactionSettled(
        event_id="ts-1",
        run_id=run.run_id,
        portfolio_id="p1",
        leg=1,
        symbol="SPY",
        side="buy",  # type: ignore[arg-type]
        qty=D(60),
        avg_price=D(100),
        trade_date=run.completed_at.date(),
        settlement_date=run.completed_at.date(),
    )
    late = on_time.model_copy(update={"event_id": "ts-late", "leg": 3, "qty": D(2), "late": True})
    batch = [on_time, settled(run), run, late]
    reads: list[Any] = []
    writes: list[Any] = []
    load_many, commit_many = env.store.load_many, env.store.commit_many

    async def counted_load(collection: str, ids: Any) -> Any:
        reads.append(collection)
        return await load_many(collection, ids)

    async def counted_commit(commits: Any) -> Any:
        writes.append(len(commits))
        return await commit_many(commits)

    env.store.load_many = counted_load  # type: ignore[method-assign]
    env.store.commit_many = counted_commit  # type: ignore[method-assign]
    await env.handlers.run_outcomes(batch)
    # a read and a write per round, a round taking one event of each portfolio: p1 has three
    # (the transaction.settled that is not late is dropped before any store work)
    assert reads.count("portfolios") == 3 and len(writes) == 3
    record = await env.record("p1")
    assert record.portfolio.blocked_by is None
    assert record.portfolio.holdings == {"SPY": D(62), "TLT": D(70)}  # the run's, the late fill's
    assert record.portfolio.cash == D(300)
    before = await state(env)
    await env.handlers.run_outcomes(batch)  # the batch redelivered after a crash
    assert await state(env) == before
