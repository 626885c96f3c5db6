"""Refusals answered with request.rejected (docs/design.md §2, §3 "Model governance"): one
subscription per account, none to an inactive model, one to a model not read yet refused after its
grace, no deactivation of a model in use, a manual run a gate holds. Each refusal is published
once, with an id derived from the refused event's id, and names it in `causation_id`."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

from rebal_schemas import (
    ModelStatusChanged,
    OptimizationCreated,
    RebalanceCondition,
    RebalanceRequested,
    RequestRejected,
)

from ..run_events import completed, settled  # type: ignore[import-not-found]
from .conftest import Env, held, weights


def rejections(events: list) -> list[RequestRejected]:
    return [e for e in events if isinstance(e, RequestRejected)]


async def test_a_second_active_subscription_of_an_account_is_refused(env: Env) -> None:
    await env.funded("p1", "m1", account_id="acct")
    await env.model("m2")
    env.new()
    second = await env.settings("p2", model_id="m2", account_id="acct", mandate="ADVISORY")
    (refused,) = rejections(env.new())
    assert refused.reason_code == "ALREADY_SUBSCRIBED" and refused.causation_id == second.event_id
    assert refused.portfolio_id == "p2" and refused.account_id == "acct"
    assert refused.model_id == "m2" and "through portfolio p1" in refused.message
    record = await env.record("p2")
    assert record.portfolio.settings.model_id is None  # not applied
    assert record.portfolio.settings.mandate == "ADVISORY"  # the rest of the patch is
    await env.handlers.portfolio_patched(second)  # redelivered: refused once
    assert env.new() == []
    await env.settings("p1", model_id="m2", account_id="acct")  # p1 switching is no second one
    assert rejections(env.new()) == []
    assert (await env.record("p1")).portfolio.settings.model_id == "m2"


async def test_another_account_or_an_inactive_portfolio_may_subscribe(env: Env) -> None:
    await env.funded("p1", "m1", account_id="acct")
    await env.settings("p2", model_id="m1", account_id="other")
    await env.settings("p3", model_id="m1", account_id="acct", active=False)
    assert rejections(env.new()) == []


async def test_a_subscription_to_an_inactive_model_is_refused(env: Env) -> None:
    await env.model("m-off", status="inactive")
    event = await env.settings("p1", model_id="m-off")
    (refused,) = rejections(env.new())
    assert refused.reason_code == "MODEL_INACTIVE" and refused.causation_id == event.event_id
    assert refused.event_id == f"{event.event_id}/rejected"
    assert (await env.record("p1")).portfolio.settings.model_id is None


async def test_a_model_not_read_yet_is_waited_for_then_the_subscription_is_refused(
    env: Env,
) -> None:
    event = await env.settings("p1", model_id="m-never")
    assert env.new() == []  # accepted, pending: empty, so not evaluated either
    pending = (await env.record("p1")).pending_subscription
    assert pending.model_id == "m-never" and pending.deadline == env.clock.now() + timedelta(
        hours=1
    )
    await env.handlers.expire_due(env.clock.now() + timedelta(minutes=59))
    assert env.new() == []
    await env.handlers.expire_due(env.clock.now() + timedelta(hours=1))
    (refused,) = env.new()
    assert isinstance(refused, RequestRejected) and refused.reason_code == "MODEL_UNKNOWN"
    assert refused.causation_id == event.event_id and refused.model_id == "m-never"
    record = await env.record("p1")
    assert record.portfolio.settings.model_id is None and record.pending_subscription is None
    await env.handlers.expire_due(env.clock.now() + timedelta(hours=2))
    assert env.new() == []


async def test_a_model_arriving_within_the_grace_keeps_the_subscription(env: Env) -> None:
    await env.settings("p1", model_id="m-late")
    await env.model("m-late")
    await env.handlers.expire_due(env.clock.now() + timedelta(hours=1))
    assert rejections(env.new()) == []
    record = await env.record("p1")
    assert record.portfolio.settings.model_id == "m-late" and record.pending_subscription is None


async def test_a_model_arriving_inactive_within_the_grace_is_refused_at_its_end(env: Env) -> None:
    event = await env.settings("p1", model_id="m-late")
    await env.model("m-late", status="inactive")
    await env.handlers.expire_due(env.clock.now() + timedelta(hours=1))
    (refused,) = rejections(env.new())
    assert refused.reason_code == "MODEL_INACTIVE" and refused.causation_id == event.event_id


async def test_deactivating_a_model_with_an_active_subscriber_is_refused(env: Env) -> None:
    await env.funded("p1", "m1")
    env.new()
    retire = await env.model("m1", weights(SPY="100"), status="inactive")
    (refused,) = env.new()
    assert isinstance(refused, RequestRejected) and refused.reason_code == "MODEL_IN_USE"
    assert refused.model_id == "m1" and refused.portfolio_id is None
    assert refused.causation_id == retire.event_id and "portfolio p1" in refused.message
    stored = (await env.store.load("models", "m1")).state
    assert stored["status"] == "active" and len(stored["weights"]) == 3  # as it was
    await env.handlers.model_updated(retire)  # redelivered
    assert env.new() == []


async def test_deactivating_a_model_without_active_subscribers_is_said(env: Env) -> None:
    await env.funded("p1", "m1")
    await env.settings("p1", active=False)
    env.new()
    retire = await env.model("m1", status="inactive")
    (changed,) = env.new()
    assert isinstance(changed, ModelStatusChanged) and changed.causation_id == retire.event_id
    assert (changed.previous_status, changed.status) == ("active", "inactive")


async def test_a_manual_run_on_an_inactive_portfolio_is_refused(env: Env) -> None:
    await env.funded("p1", "m1", mandate="ADVISORY")
    await env.settings("p1", active=False)
    env.new()
    request = await env.request(scope="portfolio", portfolio_id="p1", reason="manual")
    events = env.new()
    (refused,) = rejections(events)
    assert refused.reason_code == "PORTFOLIO_INACTIVE" and refused.causation_id == request.event_id
    assert held(events) == ["PORTFOLIO_INACTIVE"]


async def test_a_request_from_outside_rebal_that_no_band_holds_is_refused_in_band(
    env: Env,
) -> None:
    band = (RebalanceCondition(type="drift_band", sub_type="absolute", percent=D(5)),)
    await env.price("SPY", "100")
    await env.price("TLT", "50")
    await env.model("m1", conditions=band)
    await env.settings("p1", model_id="m1")
    await env.holdings("p1", "500", SPY="60", TLT="70")  # at target: nothing to trade
    env.new()
    nightly = RebalanceRequested(scope="portfolio", portfolio_id="p1", reason="nightly")
    await env.handlers.rebalance_requested(nightly)
    events = env.new()
    assert held(events) == ["IN_BAND"] and rejections(events) == []  # the scheduler's: a record
    (record,) = [e for e in events if isinstance(e, OptimizationCreated)]
    assert record.causation_id == nightly.event_id
    assert record.reasons[0].detail == "drift_band.absolute: 0.000000 SPY (threshold 5)"
    asked = RebalanceRequested(
        scope="portfolio", portfolio_id="p1", reason="drift_sweep", initiated_from="api"
    )
    await env.handlers.rebalance_requested(asked)
    (refused,) = rejections(env.new())
    assert refused.reason_code == "IN_BAND" and refused.causation_id == asked.event_id


async def manual_refusal(env: Env) -> str:
    """A client's manual run on p1: the code of its request.rejected (one), also its record's."""
    env.new()
    request = await env.request(scope="portfolio", portfolio_id="p1", reason="manual")
    events = env.new()
    (refused,) = rejections(events)
    assert refused.causation_id == request.event_id
    assert held(events) == [refused.reason_code]
    return refused.reason_code


async def test_a_manual_run_held_by_a_gate_is_refused_with_its_code(env: Env) -> None:
    await env.funded("p1", "m1", optimizer="EXTERNAL")
    assert await manual_refusal(env) == "EXTERNAL_OPTIMIZER"
    await env.settings("p2")
    await env.holdings("p2", "1000")
    env.new()
    request = await env.request(scope="portfolio", portfolio_id="p2", reason="manual")
    (refused,) = rejections(env.new())
    assert refused.reason_code == "NO_TARGET_WEIGHTS" and refused.causation_id == request.event_id


async def test_a_manual_run_on_a_model_needing_adjustment_is_refused(env: Env) -> None:
    await env.funded("p1", "m1", mandate="ADVISORY")
    env.clock.advance(timedelta(minutes=1))  # a newer quote: SPY halted
    await env.price("SPY", "100", tradable=False)
    assert await manual_refusal(env) == "MODEL_NEEDS_ADJUSTMENT"


async def test_a_manual_run_awaiting_the_client_holdings_is_refused(env: Env) -> None:
    await env.funded("p1", "m1", broker_integration="CLIENT")
    (first,) = [e for e in env.new() if isinstance(e, OptimizationCreated)]
    run = completed(
        first, integration="CLIENT", holdings_delta={"SPY": D(1)}, last_execution_at=env.clock.now()
    )
    await env.handlers.run_completed(run)
    await env.handlers.run_settled(settled(run))
    env.clock.advance(timedelta(hours=1))
    assert await manual_refusal(env) == "AWAITING_CLIENT_HOLDINGS"
