"""Fan-out of model- and platform-wide requests; expiry of advisory optimizations."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import pytest

from rebal_optimizer.service_layer.fanout import FANOUTS, child_request, fan_out
from rebal_optimizer.service_layer.messages import derived_id
from rebal_schemas import (
    OptimizationCreated,
    OptimizationStatusChanged,
    PoisonMessage,
    RebalanceRequested,
    RequestRejected,
)


async def portfolios(env, count: int, model_id: str | None = "m1") -> list[str]:
    ids = [f"p{n:03d}" for n in range(count)]
    for pid in ids:
        await env.settings(pid, model_id=model_id) if model_id else await env.settings(pid)
    return ids


async def test_scope_all_publishes_one_request_per_portfolio_in_batches(env) -> None:
    ids = await portfolios(env, 5)
    parent = await env.request(scope="all", reason="nightly", slot_id="nightly:2026-03-04")
    children = env.sink.events
    assert [c.portfolio_id for c in children] == ids
    assert all(c.scope == "portfolio" and c.reason == "nightly" for c in children)
    assert all(
        c.slot_id == "nightly:2026-03-04" and c.causation_id == parent.event_id for c in children
    )
    assert [c.event_id for c in children] == [f"{parent.event_id}/{pid}" for pid in ids]
    progress = (await env.store.load(FANOUTS, parent.event_id)).state
    assert progress["done"] and progress["sent"] == 5
    await env.handlers.rebalance_requested(parent)  # redelivered: already done
    assert len(env.sink.events) == 5


async def test_scope_model_reaches_only_that_models_subscribers(env) -> None:
    await env.model("m1")
    await env.model("m2")
    mine = await portfolios(env, 3, "m1")
    await env.settings("other", model_id="m2")
    await env.settings("own", target_weights=None)
    await env.request(scope="model", model_id="m1", reason="calendar")
    assert [c.portfolio_id for c in env.sink.events] == mine
    assert all(c.model_id == "m1" for c in env.sink.events)


async def test_an_interrupted_fan_out_resumes_after_the_last_acknowledged_batch(env) -> None:
    ids = await portfolios(env, 5)

    class FailingOnce:
        def __init__(self) -> None:
            self.events: list[RebalanceRequested] = []
            self.calls = 0

        async def publish(self, events: Sequence[RebalanceRequested]) -> None:
            self.calls += 1
            if self.calls == 2:
                raise ConnectionError("Kafka went away mid fan-out")
            self.events.extend(events)

    sink = FailingOnce()
    parent = RebalanceRequested(scope="all", reason="drift_sweep")
    with pytest.raises(ConnectionError):
        await fan_out(
            env.store, sink, parent, batch=2, producer="optimizer", queries=env.handlers.queries
        )
    assert [c.portfolio_id for c in sink.events] == ids[:2]
    await fan_out(
        env.store, sink, parent, batch=2, producer="optimizer", queries=env.handlers.queries
    )
    assert [c.portfolio_id for c in sink.events] == ids  # nothing twice, nothing missing


async def test_fanned_out_requests_are_deduplicated_by_each_portfolio(env) -> None:
    await env.funded("p1", mandate="ADVISORY")
    first = next(e for e in env.new() if isinstance(e, OptimizationCreated))
    await env.decide("p1", first.optimization_id, "REJECT")
    env.new()
    parent = RebalanceRequested(scope="all", reason="manual")
    child = child_request(parent, "p1", "optimizer")
    await env.handlers.rebalance_requested(child)
    await env.handlers.rebalance_requested(child_request(parent, "p1", "optimizer"))
    assert len([e for e in env.new() if isinstance(e, OptimizationCreated)]) == 1


def test_child_ids_are_deterministic_and_bounded() -> None:
    parent = RebalanceRequested(event_id="e" * 100, scope="all", reason="nightly")
    child = child_request(parent, "p" * 100, "optimizer")
    again = child_request(parent, "p" * 100, "optimizer")
    assert child.event_id == again.event_id and len(child.event_id) <= 128
    assert child.event_id == derived_id("e" * 100, "p" * 100) != derived_id("e" * 100, "q")


async def test_scope_model_for_an_unknown_model_is_poison(env) -> None:
    with pytest.raises(PoisonMessage, match="unknown model"):
        await env.request(scope="model", model_id="nope", reason="manual")


async def advisory(env) -> OptimizationCreated:
    await env.funded("p1", mandate="ADVISORY")
    return next(e for e in env.new() if isinstance(e, OptimizationCreated))


async def test_awaiting_optimization_expires_after_the_deadline(env) -> None:
    opt = await advisory(env)
    assert await env.handlers.expire_due(env.clock.now() + timedelta(days=1)) == 0
    assert await env.handlers.expire_due(env.clock.now() + timedelta(days=2)) == 1
    (changed,) = env.new()
    assert isinstance(changed, OptimizationStatusChanged)
    assert changed.status == "EXPIRED" and changed.optimization_id == opt.optimization_id
    record = await env.record("p1")
    assert record.awaiting is None and record.expires_at is None
    assert await env.handlers.expire_due(env.clock.now() + timedelta(days=3)) == 0
    accept = await env.decide("p1", opt.optimization_id, "ACCEPT")  # after the sweep
    (refused,) = env.new()
    assert isinstance(refused, RequestRejected) and refused.reason_code == "OPTIMIZATION_EXPIRED"
    assert refused.causation_id == accept.event_id and refused.run_id == opt.optimization_id
    assert refused.event_id == f"{accept.event_id}/rejected"
    await env.handlers.optimization_decided(accept)  # redelivered: answered once
    assert env.new() == []


async def test_a_late_decision_expires_the_optimization_instead_of_executing_it(env) -> None:
    opt = await advisory(env)
    env.clock.advance(timedelta(days=2, seconds=1))
    decided = await env.decide("p1", opt.optimization_id, "ACCEPT")
    refused, changed = env.new()
    assert isinstance(refused, RequestRejected) and refused.reason_code == "OPTIMIZATION_EXPIRED"
    assert refused.causation_id == decided.event_id
    # the expiry it caused names the refusal, so the refusal is the request's one answer
    assert changed.status == "EXPIRED" and changed.causation_id == refused.event_id
    assert (await env.record("p1")).portfolio.blocked_by is None


async def test_a_newer_recommendation_supersedes_the_waiting_one(env) -> None:
    opt = await advisory(env)
    await env.request(scope="portfolio", portfolio_id="p1", reason="manual")
    events = env.new()
    (changed,) = [e for e in events if isinstance(e, OptimizationStatusChanged)]
    (newer,) = [e for e in events if isinstance(e, OptimizationCreated)]
    assert changed.status == "SUPERSEDED" and changed.optimization_id == opt.optimization_id
    record = await env.record("p1")
    assert record.awaiting.optimization_id == newer.optimization_id
    assert record.expires_at == env.clock.now() + timedelta(days=2)
