"""The optimizer's handlers over the in-memory store: the process flows, the owner's choice,
blocking and unblocking, withdrawals, decision records (a run's outcome in detail:
test_run_outcome.py)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal as D

import pytest

from rebal_optimizer.service_layer.unit_of_work import HISTORY
from rebal_schemas import (
    HoldingsReported,
    MessageDeadLettered,
    OptimizationCreated,
    OptimizationReady,
    OptimizationStatusChanged,
    OptimizationSubmitted,
    PoisonMessage,
    ProposedOrder,
    RequestRejected,
    RunCompleted,
    WithdrawalRequested,
)

from ..run_events import completed, settled  # type: ignore[import-not-found]


def only(events: list, kind: type) -> list:
    return [e for e in events if isinstance(e, kind)]


def created(events: list) -> OptimizationCreated:
    (event,) = only(events, OptimizationCreated)
    return event


async def finished(env, run: RunCompleted) -> None:
    """The run completes (the trades are applied), then settles (the portfolio unblocks)."""
    await env.handlers.run_completed(run)
    await env.handlers.run_settled(settled(run))


async def test_first_funding_of_a_discretionary_portfolio_is_ready_and_blocks(env) -> None:
    await env.funded("p1")
    events = env.new()
    opt = created(events)
    (ready,) = only(events, OptimizationReady)
    assert opt.status == "READY" and opt.is_recommended and opt.run_type == "full_rebalance"
    assert opt.trigger == "holdings" and opt.account_id == "p1"  # account defaults to portfolio
    assert opt.optimization_id.startswith("O") and len(opt.optimization_id) == 27
    assert {(o.symbol, o.side, o.qty) for o in opt.orders} == {
        ("SPY", "buy", D(60)),
        ("TLT", "buy", D(70)),
    }
    assert [w.symbol for w in opt.weights] == ["SPY", "TLT", None]
    assert any(c.name == "first_funding" and c.met for c in opt.decision)
    assert (
        ready.optimization_id == opt.optimization_id == ready.correlation_id == opt.correlation_id
    )
    assert ready.orders == opt.orders and ready.broker_integration == "PLATFORM"
    record = await env.record("p1")
    assert record.portfolio.blocked_by == opt.optimization_id
    history = await env.store.get_appended(HISTORY, opt.optimization_id)
    assert history["status"] == "READY" and history["source"] == "PLATFORM"


async def test_blocked_portfolio_is_not_optimized_until_its_run_completes(env) -> None:
    await env.funded("p1")
    first = created(env.new())
    deposit = await env.deposit("p1", "1000")
    held = created(env.new())  # blocked: no optimization, a decision record that says why
    assert held.status == "NOT_RECOMMENDED" and held.reasons[0].code == "BLOCKED"
    assert held.causation_id == deposit.event_id and not only(env.new(), RequestRejected)
    run = completed(first, cash_delta=D("-9500"), holdings_delta={"SPY": D(60), "TLT": D(70)})
    await env.handlers.run_completed(run)
    record = await env.record("p1")
    assert record.portfolio.holdings == {"SPY": D(60), "TLT": D(70)}  # applied at execution
    assert record.portfolio.cash == D(1500)  # 10000 - 9500 + the deposit made while blocked
    assert record.portfolio.blocked_by == first.optimization_id  # unblocked at settlement
    await env.handlers.run_settled(settled(run))
    record = await env.record("p1")
    assert record.portfolio.blocked_by is None and record.portfolio.cash == D(1500)
    await env.deposit("p1", "500")  # same trading day: the daily limit holds it back
    held = created(env.new())
    assert [r.code for r in held.reasons] == ["DAILY_LIMIT", "DEFERRED"]
    assert "evaluated again on 2026-03-05" in held.reasons[1].detail
    deferred = (await env.record("p1")).portfolio.deferred
    assert deferred.until == date(2026, 3, 5) and deferred.reasons == ("deposit",)
    env.clock.advance(timedelta(days=1))
    await env.price("SPY", "100")
    await env.price("TLT", "50")
    await env.deposit("p1", "500")
    events = env.new()
    opt = created(events)
    assert opt.run_type == "invest_cash" and opt.status == "READY"
    assert all(o.side == "buy" for o in opt.orders) and only(events, OptimizationReady)
    assert any(c.name == "deferred" and c.value == "deposit" for c in opt.decision)
    assert (await env.record("p1")).portfolio.deferred is None  # acted on


async def test_completion_of_another_optimization_changes_nothing(env) -> None:
    await env.funded("p1")
    first = created(env.new())
    other = completed(first, id="O-other", optimization_id="O-other", run_id="O-other")
    assert await env.handlers.run_completed(other) is None
    assert await env.handlers.run_settled(settled(other)) is None
    assert (await env.record("p1")).portfolio.blocked_by == first.optimization_id


async def test_client_integration_waits_for_a_newer_holdings_snapshot(env) -> None:
    await env.funded("p1", broker_integration="CLIENT")
    first = created(env.new())
    executed_at = env.clock.now() + timedelta(minutes=5)
    await finished(
        env,
        completed(
            first,
            integration="CLIENT",
            cash_delta=D("-9500"),
            holdings_delta={"SPY": D(60), "TLT": D(70)},
            last_execution_at=executed_at,
        ),
    )
    record = await env.record("p1")
    assert record.portfolio.blocked_by is None
    # CLIENT: the optimizer's own book has the trades, but it waits for what the client reports
    assert record.portfolio.holdings == {"SPY": D(60), "TLT": D(70)}
    assert record.portfolio.awaiting_client_holdings_after == executed_at
    env.clock.advance(timedelta(days=1))
    await env.price("SPY", "100")
    await env.price("TLT", "50")
    await env.deposit("p1", "1000")
    waiting = created(env.new())  # still waiting for the client's snapshot
    assert waiting.reasons[0].code == "AWAITING_CLIENT_HOLDINGS"
    await env.holdings("p1", "1000", as_of=executed_at - timedelta(minutes=1), SPY="60", TLT="70")
    assert env.new() == []  # older than the last execution: not the one we wait for
    await env.holdings("p1", "1500", as_of=executed_at + timedelta(minutes=1), SPY="60", TLT="70")
    opt = created(env.new())
    assert opt.broker_integration == "CLIENT" and opt.run_type == "invest_cash"


async def test_advisory_optimization_waits_for_its_owner_then_accept_makes_it_ready(env) -> None:
    await env.funded("p1", mandate="ADVISORY")
    opt = created(env.new())
    assert opt.status == "AWAITING_OWNER" and opt.expires_at == env.clock.now() + timedelta(days=2)
    assert (await env.record("p1")).portfolio.blocked_by is None
    decided = await env.decide("p1", opt.optimization_id, "ACCEPT")
    events = env.new()
    (changed,) = only(events, OptimizationStatusChanged)
    (ready,) = only(events, OptimizationReady)
    assert changed.status == "READY" and changed.owner_choice == "ACCEPT"
    assert changed.causation_id == decided.event_id
    assert ready.optimization_id == opt.optimization_id and ready.orders == opt.orders
    assert (await env.record("p1")).portfolio.blocked_by == opt.optimization_id
    assert (await env.store.get_appended(HISTORY, f"{opt.optimization_id}:READY")) is not None


async def test_reject_ends_the_advisory_optimization(env) -> None:
    await env.funded("p1", mandate="ADVISORY")
    opt = created(env.new())
    await env.decide("p1", opt.optimization_id, "REJECT")
    (changed,) = env.new()
    assert isinstance(changed, OptimizationStatusChanged) and changed.status == "REJECTED"
    record = await env.record("p1")
    assert record.awaiting is None and record.portfolio.blocked_by is None
    late = await env.decide("p1", opt.optimization_id, "ACCEPT")
    (refused,) = env.new()
    assert isinstance(refused, RequestRejected) and refused.causation_id == late.event_id
    assert refused.reason_code == "OPTIMIZATION_UNKNOWN" and "not awaiting" in refused.message


async def test_reoptimize_supersedes_and_computes_a_new_optimization(env) -> None:
    await env.funded("p1", mandate="ADVISORY")
    first = created(env.new())
    env.clock.advance(timedelta(seconds=1))
    await env.price("SPY", "80")  # the market moved: the new one buys more SPY
    await env.decide("p1", first.optimization_id, "REOPTIMIZE")
    events = env.new()
    (changed,) = only(events, OptimizationStatusChanged)
    second = created(events)
    assert changed.status == "SUPERSEDED" and changed.optimization_id == first.optimization_id
    assert second.status == "AWAITING_OWNER" and second.optimization_id != first.optimization_id
    assert second.initiated_from == "api"
    spy = next(o for o in second.orders if o.symbol == "SPY")
    assert spy.qty == D(75)
    assert (await env.record("p1")).awaiting.optimization_id == second.optimization_id


async def test_decisions_on_unknown_portfolios_are_poison_on_unknown_optimizations_refused(
    env,
) -> None:
    with pytest.raises(PoisonMessage, match="unknown portfolio"):
        await env.decide("nope", "O1", "ACCEPT")
    await env.funded("p1", mandate="ADVISORY")
    env.new()
    await env.decide("p1", "O-unknown", "ACCEPT")
    (refused,) = env.new()
    assert refused.reason_code == "OPTIMIZATION_UNKNOWN" and "'O-unknown'" not in refused.message
    assert "O-unknown is not awaiting its owner on portfolio p1" in refused.message


@pytest.mark.parametrize("mandate", ["DISCRETIONARY", "ADVISORY"])
async def test_external_optimizer_portfolio_waits_for_submitted_orders(env, mandate) -> None:
    await env.funded("p1", optimizer="EXTERNAL", mandate=mandate)
    record = created(env.new())  # rebal's own engine does not optimize it, and says so
    assert record.status == "NOT_RECOMMENDED" and record.reasons[0].code == "EXTERNAL_OPTIMIZER"
    submitted = OptimizationSubmitted(
        portfolio_id="p1",
        external_optimization_id="ext-1",
        orders=(
            ProposedOrder(symbol="SPY", side="buy", qty=D(50)),
            ProposedOrder(symbol="TLT", side="buy", notional=D("2500")),
        ),
    )
    await env.handlers.optimization_submitted(submitted)
    events = env.new()
    opt = created(events)
    assert opt.optimization_id == "ext-1" and opt.source == "EXTERNAL" and opt.trigger == "external"
    assert {(o.symbol, o.qty) for o in opt.orders} == {("SPY", D(50)), ("TLT", D(50))}
    if mandate == "DISCRETIONARY":
        assert opt.status == "READY" and only(events, OptimizationReady)
    else:
        assert opt.status == "AWAITING_OWNER" and not only(events, OptimizationReady)
    await env.handlers.optimization_submitted(submitted.model_copy(update={"event_id": "again"}))
    assert env.new() == []  # the same external optimization id is one optimization


async def test_external_orders_are_validated_against_holdings_cash_and_blocking(env) -> None:
    await env.funded("p1", optimizer="EXTERNAL")
    env.new()
    too_much = OptimizationSubmitted(
        portfolio_id="p1",
        external_optimization_id="ext-1",
        orders=(
            ProposedOrder(symbol="SPY", side="sell", qty=D(1)),
            ProposedOrder(symbol="TLT", side="buy", qty=D(1000)),
        ),
    )
    await env.handlers.optimization_submitted(too_much)
    opt = created(env.new())
    assert opt.status == "NOT_RECOMMENDED" and not opt.is_recommended
    assert {r.code for r in opt.reasons} == {
        "EXTERNAL_SELL_EXCEEDS_HOLDING",
        "EXTERNAL_BUY_EXCEEDS_CASH",
    }
    fine = OptimizationSubmitted(
        portfolio_id="p1",
        external_optimization_id="ext-2",
        orders=(ProposedOrder(symbol="SPY", side="buy", qty=D(10)),),
    )
    await env.handlers.optimization_submitted(fine)
    assert created(env.new()).status == "READY"
    blocked = fine.model_copy(update={"event_id": "e3", "external_optimization_id": "ext-3"})
    await env.handlers.optimization_submitted(blocked)
    events = env.new()
    (rejected,) = only(events, RequestRejected)
    assert rejected.reason_code == "BLOCKED" and rejected.causation_id == blocked.event_id
    refused = created(events)
    assert refused.status == "NOT_RECOMMENDED" and refused.reasons[0].code == "BLOCKED"
    assert refused.causation_id == rejected.event_id
    not_recommended = fine.model_copy(
        update={"event_id": "e4", "external_optimization_id": "ext-4", "is_recommended": False}
    )
    await env.handlers.optimization_submitted(not_recommended)
    info = created(env.new())
    assert info.reasons[0].code == "NOT_RECOMMENDED_BY_EXTERNAL_OPTIMIZER" and info.orders


async def withdrawal_run(env, integration: str = "PLATFORM") -> OptimizationCreated:
    await env.price("SPY", "100")
    await env.price("TLT", "50")
    await env.model("m1")
    await env.settings("p1", model_id="m1", broker_integration=integration)
    await env.holdings("p1", "500", SPY="60", TLT="70")  # at target: nothing to do
    at_target = created(env.new())
    assert at_target.status == "NOT_RECOMMENDED"
    assert [r.code for r in at_target.reasons] == ["NOTHING_TO_TRADE"]
    await env.handlers.portfolio_patched(WithdrawalRequested(portfolio_id="p1", amount=D("2000")))
    opt = created(env.new())
    assert opt.run_type == "withdrawal" and opt.status == "READY" and opt.amount == D(2000)
    assert all(o.side == "sell" for o in opt.orders)
    return opt


async def test_withdrawal_cash_stays_reserved_until_the_client_reports_it_gone(env) -> None:
    opt = await withdrawal_run(env)
    raised = sum(o.qty * o.expected_price for o in opt.orders)
    assert raised >= D(1500)  # 2000 minus the 500 cash on hand
    sold = {o.symbol: -o.qty for o in opt.orders}
    await finished(env, completed(opt, cash_delta=raised, holdings_delta=sold))
    record = await env.record("p1")
    assert record.portfolio.cash == D(500) + raised and record.portfolio.pending_withdrawal == 2000
    env.clock.advance(timedelta(days=1))
    await env.price("SPY", "100")
    await env.price("TLT", "50")
    await env.deposit("p1", "1")  # an evaluation: the reserved cash is not reinvested
    assert created(env.new()).reasons[0].code == "NO_CONDITION_MET"
    paid = HoldingsReported(portfolio_id="p1", mode="delta", as_of=env.clock.now(), cash=D(-2000))
    await env.handlers.portfolio_patched(paid)
    record = await env.record("p1")
    assert record.portfolio.pending_withdrawal == 0
    assert record.portfolio.cash == D(501) + raised - D(2000)


async def test_client_withdrawal_is_paid_when_a_later_snapshot_shows_less_cash(env) -> None:
    opt = await withdrawal_run(env, "CLIENT")
    executed_at = env.clock.now() + timedelta(minutes=1)
    await finished(
        env,
        completed(
            opt,
            integration="CLIENT",
            cash_delta=D(1550),
            holdings_delta={"SPY": D(-10), "TLT": D(-11)},
            last_execution_at=executed_at,
        ),
    )
    after_run = executed_at + timedelta(minutes=1)
    await env.holdings("p1", "2050", as_of=after_run, SPY="50", TLT="59")  # the run's trades
    assert (await env.record("p1")).portfolio.pending_withdrawal == 2000
    await env.holdings("p1", "50", as_of=after_run + timedelta(minutes=1), SPY="50", TLT="59")
    record = await env.record("p1")
    assert record.portfolio.pending_withdrawal == 0 and record.portfolio.cash == 50
    reinvested = [
        e for e in only(env.published(), OptimizationCreated) if e.run_type == "invest_cash"
    ]
    assert reinvested == []  # the raised cash was never spent again


async def test_full_withdrawal_asks_for_everything_at_last_prices(env) -> None:
    await env.price("SPY", "100")
    await env.price("TLT", "50")
    await env.model("m1")
    await env.settings("p1", model_id="m1")
    await env.holdings("p1", "500", SPY="60", TLT="70")
    env.new()
    await env.handlers.portfolio_patched(WithdrawalRequested(portfolio_id="p1", full=True))
    opt = created(env.new())
    assert opt.amount == D(10000)
    assert {(o.symbol, o.qty) for o in opt.orders} == {("SPY", D(60)), ("TLT", D(70))}


async def test_deposit_evaluation_respects_invest_cash_threshold(env) -> None:
    await env.funded("p1")
    first = created(env.new())
    await finished(
        env, completed(first, cash_delta=D("-9500"), holdings_delta={"SPY": D(60), "TLT": D(70)})
    )
    env.clock.advance(timedelta(days=1))
    await env.price("SPY", "100")
    await env.price("TLT", "50")
    await env.deposit("p1", "5")  # 505 cash on 10,005: 4.75 uninvested, under the threshold 10
    held = created(env.new())
    assert held.reasons[0].code == "NO_CONDITION_MET"
    assert held.reasons[0].detail == "invest_cash: 4.75 (threshold 10)"
    record = await env.record("p1")
    assert record.portfolio.cash == D(505)


def test_dead_letter_type_is_importable() -> None:
    # The handlers raise PoisonMessage; the runtime turns it into this event (see integration).
    assert MessageDeadLettered.TOPIC == "dead.letter"
