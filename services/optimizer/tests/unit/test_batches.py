"""The batch path (a batch subscriber's list of events) gives exactly what handling the same
events one by one gives: same published events, same portfolio records, same history."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D
from typing import Any

from rebal_optimizer.service_layer.unit_of_work import HISTORY
from rebal_schemas import (
    CashDeposited,
    Event,
    HoldingsReported,
    OptimizationCreated,
    OptimizationReady,
    PortfolioSettingsChanged,
    RebalanceRequested,
    decode,
)

from .conftest import NOW, Env

VOLATILE = {"occurred_at", "recorded_at", "expires_at", "created_at"}


def fingerprint(events: list[Event]) -> list[dict[str, Any]]:
    return [e.model_dump(mode="json", exclude=VOLATILE) for e in events]


def comparable(record: Any) -> tuple[Any, list[dict[str, Any]]]:
    """The record, with its kept ready event (stamped with wall-clock times) fingerprinted."""
    kept = record.ready_event
    ready = [decode(OptimizationReady.TOPIC, kept)] if kept is not None else []
    return replace(record, ready_event=None), fingerprint(ready)


async def reference_data(env: Env) -> None:
    await env.price("SPY", "100")
    await env.price("TLT", "50")
    await env.model("m1", event_id="model-m1")  # the decision records cite the model's revision
    env.new()


def a_morning() -> list[Any]:
    """New portfolios created and funded, one funding redelivered, one portfolio touched
    several times (so the batch needs rounds)."""
    funding = HoldingsReported(portfolio_id="p1", cash=D("10000"), as_of=NOW, holdings={})
    return [
        PortfolioSettingsChanged(portfolio_id="p1", model_id="m1"),
        PortfolioSettingsChanged(portfolio_id="p2", model_id="m1"),
        funding,
        HoldingsReported(portfolio_id="p2", cash=D("5000"), as_of=NOW, holdings={"SPY": D("10")}),
        funding,  # redelivered inside the same batch
        CashDeposited(portfolio_id="p1", amount=D("250")),
        PortfolioSettingsChanged(portfolio_id="p3", model_id="m1"),
    ]


async def test_a_batch_publishes_and_stores_what_one_by_one_does() -> None:
    batched, single = Env(), Env()
    for env in (batched, single):
        await reference_data(env)
    events = a_morning()
    results = await batched.handlers.portfolio_patched_batch(events)
    one_by_one = [await single.handlers.portfolio_patched(e) for e in events]

    assert [r is None for r in results] == [r is None for r in one_by_one]
    assert results[4] is None  # the redelivery was dropped by the inbox
    published = batched.new()
    assert fingerprint(published) == fingerprint(single.new())
    created = [e for e in published if isinstance(e, OptimizationCreated)]
    # p1 and p2 funded; p1's deposit finds it blocked by its first run, and says so
    assert [(e.portfolio_id, e.status) for e in created] == [
        ("p1", "READY"),
        ("p2", "READY"),
        ("p1", "NOT_RECOMMENDED"),
    ]
    for pid in ("p1", "p2", "p3"):
        assert comparable(await batched.record(pid)) == comparable(await single.record(pid))
    p1 = await batched.record("p1")
    assert p1.portfolio.cash == D("10250")  # the deposit after the funding, in order
    for opt in (e for e in created if e.is_recommended):
        assert await batched.store.get_appended(HISTORY, opt.optimization_id) is not None


async def test_a_commit_lost_to_a_concurrent_writer_is_redone_alone() -> None:
    env = Env()
    await reference_data(env)
    await env.handlers.portfolio_patched_batch(a_morning())
    env.new()
    original = env.store.commit_many
    raced: list[int] = []

    async def racing(commits: Any) -> list[str]:
        if not raced:  # another handler writes p1 between the batch's read and its write
            raced.append(1)
            await env.deposit("p1", "100")
        return await original(commits)

    env.store.commit_many = racing  # type: ignore[method-assign]
    batch = [
        CashDeposited(portfolio_id="p1", amount=D("7")),
        CashDeposited(portfolio_id="p2", amount=D("3")),
    ]
    results = await env.handlers.portfolio_patched_batch(batch)
    assert raced and all(r is not None for r in results)
    assert (await env.record("p1")).portfolio.cash == D("10357")  # 10250 + 100 + 7
    assert (await env.record("p2")).portfolio.cash == D("5003")


async def test_a_mixed_batch_evaluates_children_and_fans_out_parents() -> None:
    env = Env()
    await reference_data(env)
    await env.handlers.portfolio_patched_batch(a_morning())
    env.new()
    child = RebalanceRequested(scope="portfolio", portfolio_id="p2", reason="manual")
    parent = RebalanceRequested(scope="all", reason="nightly", slot_id="nightly:2026-03-04")
    results = await env.handlers.rebalance_requested_batch([parent, child])
    assert results[0] == 3  # p1, p2, p3 fanned out
    assert {e.portfolio_id for e in env.sink.events} == {"p1", "p2", "p3"}
    assert results[1] is not None and results[1].publish  # a manual request is answered
