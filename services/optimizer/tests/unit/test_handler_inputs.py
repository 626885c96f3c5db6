"""Handlers: what each input does to the store, bad input, idempotency, models and prices."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest

from rebal_optimizer.adapters.reference_data import MODELS, PRICES
from rebal_optimizer.service_layer.unit_of_work import HISTORY
from rebal_schemas import (
    CashDeposited,
    HoldingsReported,
    ModelStatusChanged,
    OptimizationCreated,
    OptimizationReady,
    PoisonMessage,
    RebalanceCondition,
    RebalanceRequested,
    RequestRejected,
    Weight,
    WithdrawalRequested,
)

from .conftest import held


def weights(**percents: str) -> tuple[Weight, ...]:
    return tuple(
        Weight(type="cash", percent=D(p))
        if s == "cash"
        else Weight(type="asset", symbol=s, percent=D(p))
        for s, p in percents.items()
    )


def created(events: list) -> list[OptimizationCreated]:
    return [e for e in events if isinstance(e, OptimizationCreated)]


@pytest.mark.parametrize(
    "event",
    [
        HoldingsReported(portfolio_id="ghost", as_of="2026-03-04T15:00:00Z", cash=D(1)),
        CashDeposited(portfolio_id="ghost", amount=D(10)),
        WithdrawalRequested(portfolio_id="ghost", amount=D(10)),
    ],
)
async def test_facts_about_an_unknown_portfolio_are_poison(env, event) -> None:
    with pytest.raises(PoisonMessage, match="unknown portfolio 'ghost'"):
        await env.handlers.portfolio_patched(event)
    assert await env.record("ghost") is None and env.published() == []


async def test_rebalance_of_unknown_portfolio_or_model_is_poison(env) -> None:
    with pytest.raises(PoisonMessage, match="unknown portfolio"):
        await env.request(scope="portfolio", portfolio_id="ghost", reason="manual")
    with pytest.raises(PoisonMessage, match="unknown model 'm-ghost'"):
        await env.request(scope="model", model_id="m-ghost", reason="calendar")
    assert env.sink.events == []


async def test_a_delta_that_would_go_negative_is_poison(env) -> None:
    await env.funded("p1")
    delta = HoldingsReported(
        portfolio_id="p1", mode="delta", as_of=env.clock.now(), holdings={"SPY": D(-5)}
    )
    with pytest.raises(PoisonMessage, match="quantity of SPY"):
        await env.handlers.portfolio_patched(delta)


async def test_redelivered_event_and_repeated_deposit_id_have_no_second_effect(env) -> None:
    await env.funded("p1", broker_integration="CLIENT")
    deposit = await env.deposit("p1", "100", deposit_id="dep-1")
    await env.handlers.portfolio_patched(deposit)  # redelivery: same event id
    await env.deposit("p1", "100", deposit_id="dep-1")  # re-sent with a new event id
    record = await env.record("p1")
    assert record.portfolio.cash == D(10100)


async def test_settings_patch_only_what_is_present(env) -> None:
    await env.settings(
        "p1", mandate="ADVISORY", account_id="acct-9", model_id="m1", min_order_notional=D("5")
    )
    await env.settings("p1", fractional_trading=False)
    record = await env.record("p1")
    settings = record.portfolio.settings
    assert record.account_id == "acct-9"
    assert settings.mandate == "ADVISORY" and settings.model_id == "m1"
    assert settings.min_order_notional == D(5) and settings.fractional_trading is False
    await env.settings("p1", target_weights=weights(SPY="100"))
    settings = (await env.record("p1")).portfolio.settings
    assert settings.model_id is None and [w.symbol for w in settings.own_weights] == ["SPY"]
    await env.settings("p1", model_id=None)
    assert (await env.record("p1")).portfolio.settings.own_weights == tuple(settings.own_weights)


async def test_subscription_to_an_unknown_model_waits_for_the_model(env) -> None:
    await env.price("SPY", "100")
    await env.price("TLT", "50")
    await env.settings("p1", model_id="m-later")
    await env.holdings("p1", "10000")
    assert held(env.new()) == ["MODEL_UNKNOWN"]  # pending: the model is not known yet
    model = await env.model("m-later")
    (request,) = env.new()
    assert isinstance(request, RebalanceRequested)
    assert request.scope == "model" and request.model_id == "m-later"
    assert request.reason == "model_changed" and request.causation_id == model.event_id
    await env.handlers.rebalance_requested(request)  # the optimizer consumes its own request
    (child,) = env.sink.events
    assert child.portfolio_id == "p1" and child.event_id == f"{request.event_id}/p1"
    await env.handlers.rebalance_requested(child)
    (opt,) = created(env.new())
    assert opt.status == "READY" and opt.trigger == "model_changed"


async def test_model_change_reevaluates_only_on_weights_or_conditions(env) -> None:
    await env.model("m1")
    env.new()
    await env.model("m1", description="renamed only")
    assert env.new() == []
    await env.model(
        "m1", conditions=(RebalanceCondition(type="drift_band", sub_type="absolute", percent=D(5)),)
    )
    (request,) = env.new()
    assert request.scope == "model" and request.reason == "model_changed"
    await env.model("m1", status="inactive")  # no subscriber: deactivated, and said
    (changed,) = env.new()
    assert isinstance(changed, ModelStatusChanged) and changed.status == "inactive"
    await env.model("m1")  # active again: its subscribers may have been waiting
    changed, request = env.new()
    assert changed.status == "active" and changed.previous_status == "inactive"
    assert isinstance(request, RebalanceRequested)


async def test_model_change_rebalances_a_subscriber_inside_cooldown(env) -> None:
    await env.price("SPY", "100")
    await env.price("TLT", "50")
    band = (RebalanceCondition(type="drift_band", sub_type="absolute", percent=D(5)),)
    await env.model("m1", conditions=band, cooldown_days=30)
    await env.settings("p1", model_id="m1")
    await env.holdings("p1", "500", SPY="60", TLT="70")  # at target
    env.new()
    await env.model("m1", weights(SPY="50", TLT="45", cash="5"), conditions=band, cooldown_days=30)
    (request,) = env.new()
    await env.handlers.rebalance_requested(request)
    for child in env.sink.events:
        await env.handlers.rebalance_requested(child)
    (opt,) = created(env.new())
    assert opt.status == "READY" and opt.trigger == "model_changed"
    assert {(o.symbol, o.side, o.qty) for o in opt.orders} == {
        ("SPY", "sell", D(10)),
        ("TLT", "buy", D(20)),
    }
    assert opt.orders[0].side == "sell"  # sells before buys


async def test_a_model_sent_with_a_non_tradable_symbol_needs_adjustment(env) -> None:
    await env.price("SPY", "100", tradable=False)
    await env.price("TLT", "50")
    await env.model("m1")
    model = (await env.store.load(MODELS, "m1")).state
    assert model["status"] == "needs_adjustment" and model["non_tradable"] == ["SPY"]
    assert env.new() == []  # a new model: no status it changed from, no subscriber to evaluate
    await env.settings("p1", model_id="m1")
    await env.holdings("p1", "10000")
    (opt,) = created(env.new())
    assert opt.status == "NOT_RECOMMENDED" and opt.reasons[0].code == "MODEL_NEEDS_ADJUSTMENT"
    assert "SPY" in opt.reasons[0].detail
    await env.request(scope="portfolio", portfolio_id="p1", reason="manual")
    assert held(env.new()) == ["MODEL_NEEDS_ADJUSTMENT"]  # no new run for its subscribers


async def test_stale_prices_give_a_failed_optimization_not_a_crash(make_env) -> None:
    env = make_env(max_price_age=timedelta(minutes=15))
    await env.funded("p1", mandate="ADVISORY")
    first = created(env.new())[0]
    await env.decide("p1", first.optimization_id, "REJECT")
    env.clock.advance(timedelta(hours=1))
    await env.request(scope="portfolio", portfolio_id="p1", reason="manual")
    (opt,) = created(env.new())
    assert opt.status == "NOT_RECOMMENDED"
    assert {r.code for r in opt.reasons} == {"PRICE_STALE"}


async def test_only_the_newest_price_is_kept(env) -> None:
    await env.price("SPY", "100")
    await env.price("SPY", "90", as_of=env.clock.now() - timedelta(minutes=1))
    assert (await env.store.load(PRICES, "SPY")).state["price"] == "100"
    await env.price("SPY", "110", as_of=env.clock.now() + timedelta(minutes=1))
    assert (await env.store.load(PRICES, "SPY")).state["price"] == "110"


async def test_manual_run_with_own_weights_is_refused_while_following_a_model(env) -> None:
    await env.funded("p1", mandate="ADVISORY")
    first = created(env.new())[0]
    await env.decide("p1", first.optimization_id, "REJECT")
    request = await env.request(
        scope="portfolio",
        portfolio_id="p1",
        reason="manual",
        weights=weights(SPY="100"),
        initiated_from="dashboard",
    )
    events = env.new()
    (rejected,) = [e for e in events if isinstance(e, RequestRejected)]
    assert rejected.reason_code == "OWN_WEIGHTS_WHILE_SUBSCRIBED"
    assert rejected.causation_id == request.event_id and rejected.portfolio_id == "p1"
    assert rejected.request_event_type == "rebalance.requested"
    (opt,) = created(events)  # the decision record, caused by the refusal
    assert opt.status == "NOT_RECOMMENDED" and not opt.is_recommended
    assert opt.reasons[0].code == "OWN_WEIGHTS_WHILE_SUBSCRIBED"
    assert opt.initiated_from == "dashboard" and opt.causation_id == rejected.event_id
    await env.handlers.rebalance_requested(request)  # redelivered: refused once
    assert env.new() == []


async def test_manual_run_with_own_weights_for_a_portfolio_without_model(env) -> None:
    await env.price("SPY", "100")
    await env.settings("p1", target_weights=weights(SPY="50", cash="50"), mandate="ADVISORY")
    await env.holdings("p1", "1000")
    first = created(env.new())[0]
    await env.decide("p1", first.optimization_id, "REJECT")
    env.new()
    await env.request(
        scope="portfolio", portfolio_id="p1", reason="manual", weights=weights(SPY="100")
    )
    (opt,) = created(env.new())
    assert opt.status == "AWAITING_OWNER" and opt.orders[0].qty == D(10)


async def test_manual_run_on_a_blocked_portfolio_is_answered_not_ignored(env) -> None:
    await env.funded("p1")
    env.new()
    request = await env.request(scope="portfolio", portfolio_id="p1", reason="manual")
    events = env.new()
    (opt,) = created(events)
    assert opt.status == "NOT_RECOMMENDED" and opt.reasons[0].code == "BLOCKED"
    (rejected,) = [e for e in events if isinstance(e, RequestRejected)]
    assert rejected.reason_code == "BLOCKED" and rejected.causation_id == request.event_id
    assert rejected.event_id == f"{request.event_id}/rejected"


async def test_a_slot_is_evaluated_once_per_portfolio(env) -> None:
    await env.price("SPY", "100")
    await env.price("TLT", "50")
    await env.model(
        "m1", conditions=(RebalanceCondition(type="calendar", sub_type="monthly", day="4"),)
    )
    await env.settings("p1", model_id="m1", mandate="ADVISORY")
    await env.holdings("p1", "500", SPY="70", TLT="50")
    first = created(env.new())[0]  # the new subscription was proposed at once
    await env.decide("p1", first.optimization_id, "REJECT")
    env.clock.advance(timedelta(days=1))
    await env.price("SPY", "100")
    await env.price("TLT", "50")
    for event_id in ("slot-a", "slot-b"):  # the same slot published twice
        await env.request(
            event_id=event_id,
            scope="portfolio",
            portfolio_id="p1",
            reason="calendar",
            model_id="m1",
            slot_id="calendar:m1:2026-03-04",
        )
    first, second = created(env.new())
    assert first.is_recommended and first.causation_id == "slot-a"
    assert second.reasons[0].code == "SLOT_ALREADY_EVALUATED" and second.causation_id == "slot-b"


async def test_daily_limit_allows_one_automatic_optimization_per_trading_day(env) -> None:
    await env.funded("p1", mandate="ADVISORY")
    first = created(env.new())[0]
    await env.decide("p1", first.optimization_id, "REJECT")
    await env.deposit("p1", "1000")
    assert held(env.new()) == ["DAILY_LIMIT"]
    env.clock.advance(timedelta(days=1))
    await env.price("SPY", "100")
    await env.price("TLT", "50")
    await env.deposit("p1", "1000")
    (opt,) = created(env.new())
    assert opt.is_recommended


async def test_history_left_pending_by_a_crash_is_appended_by_the_next_step(env) -> None:
    real_append = env.store.append
    calls = {"n": 0}

    async def crash_after_commit(collection, doc_id, body):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        raise ConnectionError("crashed before the append")

    env.store.append = crash_after_commit
    await env.price("SPY", "100")
    await env.price("TLT", "50")
    await env.model("m1")
    await env.settings("p1", model_id="m1")
    with pytest.raises(ConnectionError):
        await env.holdings("p1", "10000")
    opt = created(env.new())[0]
    assert await env.store.get_appended(HISTORY, opt.optimization_id) is None
    env.store.append = real_append
    await env.deposit("p1", "1")  # any next step on the portfolio
    record = await env.store.get_appended(HISTORY, opt.optimization_id)
    assert record["optimization_id"] == opt.optimization_id and record["status"] == "READY"


async def test_ready_event_orders_buy_fractional_quantities_by_notional(env) -> None:
    await env.price("SPY", "301")
    await env.price("TLT", "71")
    await env.model("m1")
    await env.settings("p1", model_id="m1")
    await env.holdings("p1", "1000")
    ready = next(e for e in env.new() if isinstance(e, OptimizationReady))
    for order in ready.orders:
        assert order.notional is not None and order.qty is None
        assert order.notional <= D(1000)
    await env.settings("p2", model_id="m1", fractional_trading=False)
    await env.holdings("p2", "1000")
    ready = next(e for e in env.new() if isinstance(e, OptimizationReady))
    assert all(o.qty is not None and o.qty == o.qty.to_integral_value() for o in ready.orders)


async def test_an_empty_subscriber_keeps_its_new_targets_for_the_first_funding(env) -> None:
    await env.price("SPY", "100")
    await env.price("TLT", "50")
    await env.model("m1")
    await env.settings("p1", model_id="m1")
    env.new()
    await env.model("m1", weights(SPY="50", TLT="45", cash="5"))
    (request,) = env.new()
    await env.handlers.rebalance_requested(request)
    for child in env.sink.events:
        await env.handlers.rebalance_requested(child)
    assert held(env.new()) == ["NO_PORTFOLIO_VALUE"]  # empty: not evaluated, but answered
    await env.holdings("p1", "0", TLT="200")  # funded with assets, far from the model
    (opt,) = created(env.new())
    assert opt.status == "READY" and opt.run_type == "full_rebalance"
    assert [(o.symbol, o.side) for o in opt.orders] == [("TLT", "sell"), ("SPY", "buy")]


async def test_a_manual_run_on_an_empty_portfolio_is_answered(env) -> None:
    await env.settings("p1", target_weights=weights(SPY="100"))
    await env.request(scope="portfolio", portfolio_id="p1", reason="manual")
    (opt,) = created(env.new())
    assert opt.status == "NOT_RECOMMENDED" and opt.reasons[0].code == "NO_PORTFOLIO_VALUE"
