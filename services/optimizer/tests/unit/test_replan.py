"""A run the order-router stopped at its start because its prices moved (`replan`: no order sent,
CANCELED): the event that unblocks the portfolio plans it again at once under the trigger of the
optimization the run came from, once whatever the order of arrival; the replaced run counts
toward neither the daily limit nor the cooldown (fake clock, in-memory store)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from rebal_schemas import OptimizationCreated, RunCompleted, RunSettled

from ..run_events import completed, settled  # type: ignore[import-not-found]
from .conftest import Env


def created(events: list[Any]) -> list[OptimizationCreated]:
    return [e for e in events if isinstance(e, OptimizationCreated)]


async def stopped_run(env: Env) -> tuple[OptimizationCreated, RunCompleted, RunSettled]:
    """A first funding (automatic `holdings` trigger: a full rebalance that counts today against
    the daily limit) whose run was stopped at its start: CANCELED, nothing executed."""
    await env.funded("p1")
    (first,) = created(env.new())
    assert first.trigger == "holdings" and first.run_type == "full_rebalance"
    run = completed(first, status="CANCELED", replan=True)
    return first, run, settled(run, replan=True)


def assert_replanned(events: list[Any], first: OptimizationCreated) -> OptimizationCreated:
    (again,) = created(events)
    assert again.optimization_id != first.optimization_id
    assert again.trigger == first.trigger and again.run_type == "full_rebalance"
    assert again.is_recommended  # not held by the daily limit: the stopped run did not count
    (replanned,) = [r for r in again.reasons if r.code == "REPLANNED"]
    assert first.optimization_id in replanned.detail
    return again


@pytest.mark.parametrize("order", [["completed", "settled"], ["settled", "completed"]])
async def test_replan_at_run_settled_once_in_either_order(env: Env, order: list[str]) -> None:
    first, run, run_settled = await stopped_run(env)
    events: dict[str, RunCompleted | RunSettled] = {"completed": run, "settled": run_settled}
    published = []
    for name in order:
        handle: Any = getattr(env.handlers, f"run_{name}")
        await handle(events[name])
        published.append(env.new())
        assert await handle(events[name]) is None  # redelivered: the inbox drops it
        assert await handle(events[name].model_copy(update={"event_id": "re-" + name})) is None
        assert env.new() == []
    at = order.index("settled")  # unblocked on settlement (the default)
    assert all(p == [] for i, p in enumerate(published) if i != at)
    again = assert_replanned(published[at], first)
    portfolio = (await env.record("p1")).portfolio
    assert portfolio.blocked_by == again.optimization_id  # blocked by the new plan
    assert portfolio.last_rebalanced_at is None  # the stopped run started no cooldown
    assert portfolio.origin is not None and portfolio.origin.trigger.reason == "holdings"


async def test_replan_at_run_completed_under_unblock_on_execution(
    make_env: Callable[..., Env],
) -> None:
    env = make_env(unblock_on="execution")
    first, run, run_settled = await stopped_run(env)
    await env.handlers.run_completed(run)
    again = assert_replanned(env.new(), first)
    await env.handlers.run_settled(run_settled)
    assert env.new() == []  # planned again once
    assert (await env.record("p1")).portfolio.blocked_by == again.optimization_id


async def test_a_replanned_run_stopped_again_is_planned_again(env: Env) -> None:
    first, run, run_settled = await stopped_run(env)
    await env.handlers.run_completed(run)
    await env.handlers.run_settled(run_settled)
    again = assert_replanned(env.new(), first)
    second = completed(again, status="CANCELED", replan=True)
    await env.handlers.run_settled(settled(second, replan=True))
    third = assert_replanned(env.new(), again)
    assert third.trigger == "holdings"


async def test_a_stopped_run_without_replan_is_not_planned_again(env: Env) -> None:
    _, run, run_settled = await stopped_run(env)
    await env.handlers.run_completed(run.model_copy(update={"replan": False}))
    await env.handlers.run_settled(run_settled.model_copy(update={"replan": False}))
    assert created(env.new()) == []
    assert (await env.record("p1")).portfolio.blocked_by is None


async def test_replan_of_a_manual_run_keeps_its_trigger(env: Env) -> None:
    await env.funded("p1", mandate="ADVISORY")  # first funding awaits the owner
    (proposal,) = created(env.new())
    await env.decide("p1", proposal.optimization_id, "REJECT")
    await env.request(scope="portfolio", portfolio_id="p1", reason="manual", run_type="invest_cash")
    (manual,) = created(env.new())
    await env.decide("p1", manual.optimization_id, "ACCEPT")
    env.new()
    run = completed(manual, status="CANCELED", replan=True)
    await env.handlers.run_settled(settled(run, replan=True))
    (again,) = created(env.new())
    assert (again.trigger, again.run_type, again.status) == (
        "manual",
        "invest_cash",
        "AWAITING_OWNER",
    )
    assert any(r.code == "REPLANNED" for r in again.reasons)
