"""The running optimizer over the real embedded Kafka: InvestSuite's eight process flows
(broker integration x mandate x optimizer), blocking until run.settled, the owner's choices,
expiry, a model change, and the fan-out of scope `all`."""

from __future__ import annotations

import itertools
from datetime import timedelta
from decimal import Decimal as D
from typing import Any

import pytest

from rebal_schemas import (
    CashDeposited,
    HoldingsReported,
    ModelUpdated,
    OptimizationCreated,
    OptimizationDecided,
    OptimizationReady,
    OptimizationStatusChanged,
    OptimizationSubmitted,
    PortfolioSettingsChanged,
    PriceUpdated,
    ProposedOrder,
    RebalanceCondition,
    RebalanceRequested,
)

from ..run_events import completed, settled  # type: ignore[import-not-found]
from .conftest import ADVISORY_EXPIRY_SECONDS, Harness, unique, weights

pytestmark = pytest.mark.kafka

FLOWS = list(
    itertools.product(
        ("PLATFORM", "CLIENT"), ("DISCRETIONARY", "ADVISORY"), ("PLATFORM", "EXTERNAL")
    )
)


def created_for(pid: str, **fields: Any):  # type: ignore[no-untyped-def]
    def match(e: Any) -> bool:
        return (
            isinstance(e, OptimizationCreated)
            and e.portfolio_id == pid
            and all(getattr(e, k) == v for k, v in fields.items())
        )

    return match


def changed_for(optimization_id: str, status: str):  # type: ignore[no-untyped-def]
    return lambda e: (
        isinstance(e, OptimizationStatusChanged)
        and e.optimization_id == optimization_id
        and e.status == status
    )


def ready_for(optimization_id: str):  # type: ignore[no-untyped-def]
    return lambda e: isinstance(e, OptimizationReady) and e.optimization_id == optimization_id


async def market(
    h: Harness, model_id: str, a: str, b: str, conditions: tuple[RebalanceCondition, ...] = ()
) -> None:
    """Prices for two unique symbols and a 60/35/5 model on them, committed by the optimizer."""
    now = h.clock.now()
    prices = [
        PriceUpdated(symbol=a, price=D(100), as_of=now),
        PriceUpdated(symbol=b, price=D(50), as_of=now),
    ]
    model = ModelUpdated(
        model_id=model_id,
        name="balanced",
        weights=weights(**{a: "60", b: "35", "cash": "5"}),
        rebalance_conditions=conditions,
    )
    await h.send(*prices, model)
    for price in prices:
        await h.processed("prices", price.symbol, price.event_id)
    await h.processed("models", model_id, model.event_id)


@pytest.mark.parametrize(("integration", "mandate", "optimizer"), FLOWS)
async def test_process_flow(
    harness: Harness, integration: str, mandate: str, optimizer: str
) -> None:
    h, u = harness, unique()
    pid, mid, a, b = f"p-{u}", f"m-{u}", f"A{u}", f"B{u}"
    await market(h, mid, a, b)
    settings = PortfolioSettingsChanged(
        portfolio_id=pid,
        model_id=mid,
        mandate=mandate,
        broker_integration=integration,
        optimizer=optimizer,
    )
    t0 = h.clock.now()
    funding = HoldingsReported(portfolio_id=pid, cash=D(10000), as_of=t0)
    await h.send(settings, funding)

    # 1. triggered: rebal's engine on the first funding, or the external optimizer's orders
    if optimizer == "EXTERNAL":
        await h.processed("portfolios", pid, funding.event_id)
        assert (await h.record(pid)).last_optimization_id is None  # rebal did not optimize it
        await h.send(
            OptimizationSubmitted(
                portfolio_id=pid,
                external_optimization_id=f"ext-{u}",
                orders=(
                    ProposedOrder(symbol=a, side="buy", qty=D(60)),
                    ProposedOrder(symbol=b, side="buy", qty=D(70)),
                ),
            )
        )
    (first,) = await h.output(h.created, created_for(pid, is_recommended=True))
    assert first.source == optimizer and first.broker_integration == integration
    assert first.mandate == mandate and first.is_recommended and first.run_type == "full_rebalance"
    assert {(o.symbol, o.side, o.qty) for o in first.orders} == {
        (a, "buy", D(60)),
        (b, "buy", D(70)),
    }
    assert first.correlation_id == first.optimization_id and first.account_id == pid

    # 2. ready: at once (discretionary) or on the owner's ACCEPT (advisory)
    if mandate == "ADVISORY":
        assert first.status == "AWAITING_OWNER" and first.expires_at is not None
        accept = OptimizationDecided(
            portfolio_id=pid, optimization_id=first.optimization_id, owner_choice="ACCEPT"
        )
        await h.send(accept)
        (accepted,) = await h.output(h.created, changed_for(first.optimization_id, "READY"))
        assert accepted.causation_id == accept.event_id
    else:
        assert first.status == "READY"
    (ready,) = await h.output(h.ready, ready_for(first.optimization_id))
    assert ready.orders == first.orders and ready.broker_integration == integration
    assert ready.correlation_id == first.optimization_id and ready.portfolio_id == pid

    # 3. blocked: a deposit now changes cash but optimizes nothing; its decision record says why
    deposit = CashDeposited(portfolio_id=pid, amount=D(1000))
    await h.send(deposit)
    await h.processed("portfolios", pid, deposit.event_id)
    record = await h.record(pid)
    assert record.portfolio.blocked_by == first.optimization_id
    assert record.last_optimization_id == first.optimization_id  # no new optimization
    (held,) = await h.output(h.created, created_for(pid, causation_id=deposit.event_id))
    assert held.status == "NOT_RECOMMENDED" and held.reasons[0].code == "BLOCKED"

    # 4. run.completed (as the settlement-tracker publishes it) applies the trades at execution;
    #    run.settled unblocks
    executed_at = t0 + timedelta(minutes=1)
    completion = completed(
        first,
        integration=integration,
        cash_delta=D(-9500),
        holdings_delta={a: D(60), b: D(70)},
        last_execution_at=executed_at,
        completed_at=executed_at + timedelta(minutes=1),
    )
    await h.send(completion)
    await h.processed("portfolios", pid, completion.event_id)
    record = await h.record(pid)
    assert record.portfolio.blocked_by == first.optimization_id  # until it settles
    assert record.portfolio.holdings == {a: D(60), b: D(70)}  # CLIENT: its own book
    assert record.portfolio.cash == D(1500)
    if integration == "CLIENT":
        assert record.portfolio.awaiting_client_holdings_after == executed_at
    settlement = settled(completion)
    await h.send(settlement)
    await h.processed("portfolios", pid, settlement.event_id)
    assert (await h.record(pid)).portfolio.blocked_by is None

    # 5. optimized again on the next trading day (one automatic optimization per day)
    h.clock.advance(timedelta(days=1))
    fact: HoldingsReported | CashDeposited
    if integration == "CLIENT":  # the client's snapshot, newer than the last execution
        fact = HoldingsReported(
            portfolio_id=pid, cash=D(1500), as_of=h.clock.now(), holdings={a: D(60), b: D(70)}
        )
    else:
        fact = CashDeposited(portfolio_id=pid, amount=D(500))
    await h.send(fact)
    if optimizer == "EXTERNAL":
        # another topic: submitted before the snapshot is read, it would be refused (waiting)
        await h.processed("portfolios", pid, fact.event_id)
        await h.send(
            OptimizationSubmitted(
                portfolio_id=pid,
                external_optimization_id=f"ext2-{u}",
                orders=(ProposedOrder(symbol=a, side="buy", qty=D(5)),),
            )
        )
    (second,) = [
        e
        for e in await h.output(h.created, created_for(pid, is_recommended=True), count=2)
        if e.optimization_id != first.optimization_id
    ]
    assert second.is_recommended and all(o.side == "buy" for o in second.orders)
    assert second.run_type == ("full_rebalance" if optimizer == "EXTERNAL" else "invest_cash")
    if mandate == "DISCRETIONARY":
        assert second.status == "READY"
        await h.output(h.ready, ready_for(second.optimization_id))
    else:
        assert second.status == "AWAITING_OWNER"


async def funded_advisory(h: Harness) -> tuple[str, OptimizationCreated]:
    u = unique()
    pid, mid = f"p-{u}", f"m-{u}"
    await market(h, mid, f"A{u}", f"B{u}")
    await h.send(
        PortfolioSettingsChanged(portfolio_id=pid, model_id=mid, mandate="ADVISORY"),
        HoldingsReported(portfolio_id=pid, cash=D(10000), as_of=h.clock.now()),
    )
    (first,) = await h.output(h.created, created_for(pid, status="AWAITING_OWNER"))
    return pid, first


async def test_advisory_reoptimize_then_reject(harness: Harness) -> None:
    h = harness
    pid, first = await funded_advisory(h)
    reoptimize = OptimizationDecided(
        portfolio_id=pid, optimization_id=first.optimization_id, owner_choice="REOPTIMIZE"
    )
    await h.send(reoptimize)
    await h.output(h.created, changed_for(first.optimization_id, "SUPERSEDED"))
    (second,) = await h.output(h.created, created_for(pid, causation_id=reoptimize.event_id))
    assert second.status == "AWAITING_OWNER" and second.optimization_id != first.optimization_id
    assert second.orders == first.orders  # nothing moved in between
    await h.send(
        OptimizationDecided(
            portfolio_id=pid, optimization_id=second.optimization_id, owner_choice="REJECT"
        )
    )
    (rejected,) = await h.output(h.created, changed_for(second.optimization_id, "REJECTED"))
    assert rejected.owner_choice == "REJECT"
    record = await h.record(pid)
    assert record.awaiting is None and record.portfolio.blocked_by is None
    assert not [e for e in h.ready.events() if getattr(e, "portfolio_id", None) == pid]


async def test_advisory_optimization_expires_when_nobody_decides(harness: Harness) -> None:
    h = harness
    pid, first = await funded_advisory(h)
    h.clock.advance(timedelta(seconds=ADVISORY_EXPIRY_SECONDS + 1))  # wakes the sweep
    (expired,) = await h.output(h.created, changed_for(first.optimization_id, "EXPIRED"))
    assert expired.portfolio_id == pid
    assert (await h.record(pid)).awaiting is None


async def at_target(h: Harness, count: int) -> tuple[str, str, str, list[str]]:
    """`count` portfolios following a new model with a 5-point drift band, already at target."""
    u = unique()
    mid, a, b = f"m-{u}", f"A{u}", f"B{u}"
    conditions = (RebalanceCondition(type="drift_band", sub_type="absolute", percent=D(5)),)
    await market(h, mid, a, b, conditions)
    pids = [f"p-{u}-{n}" for n in range(count)]
    for pid in pids:
        await h.send(
            PortfolioSettingsChanged(portfolio_id=pid, model_id=mid),
            HoldingsReported(
                portfolio_id=pid, cash=D(500), as_of=h.clock.now(), holdings={a: D(60), b: D(70)}
            ),
        )
    for pid in pids:  # the new subscription is evaluated: nothing to trade
        # (the new model's own fan-out may reach the portfolio too, and is answered)
        (opt,) = await h.output(h.created, created_for(pid, trigger="holdings"))
        assert opt.status == "NOT_RECOMMENDED" and opt.reasons[0].code == "NOTHING_TO_TRADE"
    return mid, a, b, pids


async def test_model_change_reevaluates_its_subscribers(harness: Harness) -> None:
    h = harness
    mid, a, b, pids = await at_target(h, 2)
    change = ModelUpdated(
        model_id=mid,
        name="balanced",
        weights=weights(**{a: "50", b: "45", "cash": "5"}),
        rebalance_conditions=(
            RebalanceCondition(type="drift_band", sub_type="absolute", percent=D(5)),
        ),
    )
    await h.send(change)
    for pid in pids:
        (opt,) = await h.output(
            h.created, created_for(pid, trigger="model_changed", is_recommended=True)
        )
        assert opt.status == "READY"
        assert [(o.symbol, o.side, o.qty) for o in opt.orders] == [
            (a, "sell", D(10)),
            (b, "buy", D(20)),
        ]
        await h.output(h.ready, ready_for(opt.optimization_id))
    (request,) = await h.output(h.requested, lambda e: e.causation_id == change.event_id)
    assert request.scope == "model" and request.model_id == mid
    children = await h.output(
        h.requested, lambda e: e.causation_id == request.event_id, count=len(pids)
    )
    assert sorted(c.portfolio_id for c in children) == pids


async def test_fan_out_of_scope_all_evaluates_every_portfolio_once(harness: Harness) -> None:
    h = harness
    _, a, _, pids = await at_target(h, 4)
    h.clock.advance(timedelta(days=1))
    moved = PriceUpdated(symbol=a, price=D(130), as_of=h.clock.now())  # A drifts 11 points
    await h.send(moved)
    await h.processed("prices", a, moved.event_id)
    sweep = RebalanceRequested(scope="all", reason="drift_sweep", slot_id=f"sweep-{unique()}")
    await h.send(sweep, sweep)  # a redelivered fan-out is deduplicated by each portfolio
    mine = await h.output(
        h.requested,
        lambda e: e.causation_id == sweep.event_id and e.portfolio_id in pids,
        count=len(pids),
    )
    assert sorted(c.event_id for c in mine) == [f"{sweep.event_id}/{pid}" for pid in pids]
    assert all(c.reason == "drift_sweep" and c.slot_id == sweep.slot_id for c in mine)
    for pid in pids:
        (opt,) = await h.output(h.created, created_for(pid, trigger="drift_sweep"))
        assert opt.status == "READY" and opt.orders[0].symbol == a and opt.orders[0].side == "sell"
        assert any(c.name == "drift_band.absolute" and c.met for c in opt.decision)
    await h.created.settle(0.5)
    for pid in pids:
        assert (
            len([e for e in h.created.events() if created_for(pid, trigger="drift_sweep")(e)]) == 1
        )
    # every portfolio of the store got exactly one request, although the sweep came twice
    await h.requested.settle(0.5)
    children = [e for e in h.requested.events() if e.causation_id == sweep.event_id]
    every = await h.optimizer.runtime.store.scan("portfolios", limit=10_000)
    assert sorted(c.portfolio_id for c in children) == sorted(every)
