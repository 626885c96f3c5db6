"""After the broker lost records: every portfolio blocked by a READY optimization publishes the
very optimization.ready it published first (same id, same bytes), through its outbox; one no
longer blocked publishes nothing; one blocked before the document kept its ready event is logged
and skipped."""

from __future__ import annotations

import structlog

from rebal_optimizer.adapters.portfolio_document import PORTFOLIOS, record_from_document
from rebal_optimizer.bootstrap import bootstrap
from rebal_optimizer.service_layer.redelivery import ReadyRedelivery
from rebal_optimizer.settings import OptimizerSettings
from rebal_runtime.clock import FakeClock
from rebal_runtime.store import OutboxMessage
from rebal_runtime.uow import Change, apply_once
from rebal_schemas import OptimizationCreated, OptimizationReady, encode

from ..run_events import completed, settled  # type: ignore[import-not-found]
from .conftest import NOW, Env


def ready_rows(env: Env, optimization_id: str) -> list[OutboxMessage]:
    return [
        m
        for m in env.store.outbox_messages()
        if m.topic == OptimizationReady.TOPIC and optimization_id in m.event_id
    ]


def ready_of(env: Env, portfolio_id: str) -> OptimizationReady:
    (ready,) = [
        e
        for e in env.published()
        if isinstance(e, OptimizationReady) and e.portfolio_id == portfolio_id
    ]
    return ready


def redelivery(env: Env) -> ReadyRedelivery:
    return ReadyRedelivery(env.handlers.queries, env.handlers.portfolios)


async def test_a_blocked_portfolio_publishes_its_first_ready_event_again(env: Env) -> None:
    await env.funded("p1")  # discretionary: READY at once, through the batch path
    ready = ready_of(env, "p1")
    record = await env.record("p1")
    assert record.portfolio.blocked_by == ready.optimization_id
    assert record.ready_event == encode(ready).decode()
    with structlog.testing.capture_logs() as logs:
        done = await redelivery(env).republish_blocked("topics re-created")
    assert (done.republished, done.skipped, done.failed) == (1, 0, 0)
    first, again = ready_rows(env, ready.optimization_id)
    assert again == first  # event id, topic, key, bytes and headers: the same message
    assert (await env.record("p1")).ready_event == record.ready_event
    (summary,) = [e for e in logs if e["log_level"] == "warning"]
    assert summary["republished"] == 1 and summary["reason"] == "topics re-created"


async def test_the_owners_accept_keeps_the_ready_event_too(env: Env) -> None:
    await env.funded("p1", mandate="ADVISORY")  # waits for its owner: not blocked yet
    (opt,) = [e for e in env.published() if isinstance(e, OptimizationCreated)]
    assert (await env.record("p1")).ready_event is None
    assert (await redelivery(env).republish_blocked()).republished == 0
    await env.decide("p1", opt.optimization_id, "ACCEPT")  # the single-document path
    ready = ready_of(env, "p1")
    assert (await env.record("p1")).ready_event == encode(ready).decode()
    assert (await redelivery(env).republish_blocked()).republished == 1
    first, again = ready_rows(env, opt.optimization_id)
    assert again == first


async def test_an_unblocked_portfolio_publishes_nothing_again(env: Env) -> None:
    await env.funded("p1")
    await env.funded("p2")
    done_run, still = ready_of(env, "p1"), ready_of(env, "p2")
    run = completed(done_run, completed_at=env.clock.now())
    await env.handlers.run_completed(run)
    assert (await env.record("p1")).ready_event is not None  # blocked until it settles
    await env.handlers.run_settled(settled(run))
    unblocked = await env.record("p1")
    assert unblocked.portfolio.blocked_by is None and unblocked.ready_event is None
    done = await redelivery(env).republish_blocked()
    assert (done.republished, done.skipped) == (1, 0)  # p2 only
    assert len(ready_rows(env, done_run.optimization_id)) == 1
    assert len(ready_rows(env, still.optimization_id)) == 2


async def test_a_portfolio_blocked_before_the_event_was_kept_is_logged_and_skipped(
    env: Env,
) -> None:
    await env.funded("old")
    await env.funded("new")
    old_ready = ready_of(env, "old")
    doc = await env.store.load(PORTFOLIOS, "old")
    assert doc is not None
    state = {k: v for k, v in doc.state.items() if k != "ready_event"}  # as written before

    async def rewrite(_: object) -> Change:
        return Change(state, index=record_from_document(state).index())

    await apply_once(env.store, PORTFOLIOS, "old", None, rewrite)
    record = await env.record("old")  # an older document still loads
    assert record.ready_event is None and record.portfolio.blocked_by == old_ready.optimization_id
    with structlog.testing.capture_logs() as logs:
        done = await redelivery(env).republish_blocked()
    assert (done.republished, done.skipped, done.failed) == (1, 1, 0)
    assert len(ready_rows(env, old_ready.optimization_id)) == 1  # not published again
    skipped = [e for e in logs if e.get("optimization_id") == old_ready.optimization_id]
    assert skipped and skipped[0]["log_level"] == "warning"
    assert (await env.record("old")).portfolio.blocked_by == old_ready.optimization_id


async def test_bootstrap_hooks_it_to_the_broker_watchdog() -> None:
    optimizer = bootstrap(OptimizerSettings(store_url="memory://"), clock=FakeClock(NOW))
    hooks = optimizer.runtime.watchdog.on_data_lost
    assert len(hooks) == 1
    await optimizer.runtime.store.open()
    try:
        with structlog.testing.capture_logs() as logs:
            await hooks[0]("log-end offsets went down")
    finally:
        await optimizer.runtime.store.close()
    assert [e["republished"] for e in logs if "republished" in e] == [0]
