"""The Portfolio aggregate: facts, the owner's choice, external optimizations and InvestSuite's
eight process flows (a run's outcome: test_runs.py)."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

import pytest

from rebal_optimizer.domain import (
    BrokerIntegration,
    Evaluation,
    ExternalOrder,
    IllegalTransition,
    InvalidPortfolioUpdate,
    InvalidSettings,
    Mandate,
    ModelPortfolio,
    OptimizationStatus,
    OptimizerMode,
    OwnerChoice,
    Portfolio,
    PortfolioAccount,
    PortfolioSettings,
    Price,
    RebalanceCondition,
    RunResult,
    RunType,
    Side,
    Trigger,
    TriggerReason,
    Weight,
    run_completed,
    run_settled,
)
from rebal_optimizer.domain import evaluation as domain_evaluation

NOW = datetime(2026, 3, 4, 15, tzinfo=UTC)
TODAY = date(2026, 3, 4)
MODEL = ModelPortfolio(
    "m1",
    "Balanced",
    (Weight("asset", "A", D(50)), Weight("asset", "B", D(50))),
    cooldown_days=31,
    rebalance_conditions=(RebalanceCondition("drift_band", "absolute", percent=D(5)),),
)
PRICES = {"A": Price(D(10), True, True, NOW), "B": Price(D(10), True, True, NOW)}
DRIFTED = Portfolio(
    "P1", {"A": D(60), "B": D(40)}, D(0), PortfolioSettings(model_id="m1"), funded=True
)


def evaluate(
    portfolio: Portfolio,
    trading_days,
    reason: str = "nightly",
    *,
    optimization_id: str = "O1",
    today: date = TODAY,
    now: datetime = NOW,
) -> Evaluation:
    return domain_evaluation.evaluate(
        portfolio,
        Trigger(TriggerReason(reason)),
        MODEL,
        PRICES,
        optimization_id=optimization_id,
        now=now,
        today=today,
        trading_days=trading_days,
        max_price_age=timedelta(minutes=15),
    )


def finished(portfolio: Portfolio, executed: dict[str, D]) -> Portfolio:
    """Run O1 completed, then settled (see test_runs.py)."""
    run = RunResult("O1", executed, D(0), NOW)
    done = run_completed(PortfolioAccount(portfolio, "acc"), run, completed_on=TODAY, unblock=False)
    assert done is not None
    settled = run_settled(done.account, run, executed_on=TODAY)
    assert settled is not None
    return settled.account.portfolio


def with_settings(portfolio: Portfolio, **changes: object) -> Portfolio:
    return replace(portfolio, settings=replace(portfolio.settings, **changes))  # type: ignore[arg-type]


# -- facts ------------------------------------------------------------------------------------


def test_snapshot_replaces_holdings_and_ignores_older_ones() -> None:
    p = Portfolio("P1").apply_holdings_snapshot({"A": D(5), "B": D(0)}, D(7), NOW)
    assert p.holdings == {"A": D(5)} and p.cash == D(7) and p.funded
    older = p.apply_holdings_snapshot({"A": D(1)}, D(0), NOW - timedelta(seconds=1))
    same = p.apply_holdings_snapshot({"A": D(1)}, D(0), NOW)
    assert older is p and same is p


def test_cash_only_snapshot_is_not_yet_a_funding() -> None:
    p = Portfolio("P1").apply_holdings_snapshot({}, D(1000), NOW)
    assert not p.funded  # the first-funding rule still applies to it


def test_snapshot_newer_than_last_execution_ends_the_client_wait() -> None:
    waiting = Portfolio("P1", awaiting_client_holdings_after=NOW)
    assert waiting.apply_holdings_snapshot({}, D(1), NOW).awaiting_client_holdings_after == NOW
    stale = waiting.apply_holdings_snapshot({}, D(1), NOW - timedelta(minutes=1))
    assert stale.awaiting_client_holdings_after == NOW
    assert (
        waiting.apply_holdings_snapshot(
            {}, D(1), NOW + timedelta(seconds=1)
        ).awaiting_client_holdings_after
        is None
    )


def test_holdings_delta_cannot_go_negative_and_drops_zeros() -> None:
    p = Portfolio("P1", {"A": D(5)}, D(10))
    assert p.apply_holdings_delta({"A": D(-5), "B": D(2)}, D(-3)).holdings == {"B": D(2)}
    with pytest.raises(InvalidPortfolioUpdate):
        p.apply_holdings_delta({"A": D("-5.000000001")})
    assert p.holdings == {"A": D(5)}  # immutable


def test_cash_movements() -> None:
    p = Portfolio("P1", cash=D(100)).deposit_cash(D(50)).request_withdrawal(D(120))
    assert (p.cash, p.pending_withdrawal) == (D(150), D(120))
    assert p.request_withdrawal(D(120)).pending_withdrawal == D(120)  # a total, not an increment
    paid = p.withdraw_cash(D(120))
    assert (paid.cash, paid.pending_withdrawal) == (D(30), D(0))
    with pytest.raises(InvalidPortfolioUpdate):
        p.deposit_cash(D(0))


def test_settings_validation() -> None:
    own = (Weight("asset", "A", D(100)),)
    with pytest.raises(InvalidSettings, match="not both"):
        PortfolioSettings(model_id="m1", own_weights=own)
    with pytest.raises(InvalidSettings, match="sum"):
        PortfolioSettings(own_weights=(Weight("asset", "A", D(99)),))
    with pytest.raises(InvalidSettings, match="not a valid Mandate"):
        PortfolioSettings(mandate="SOMETIMES")  # type: ignore[arg-type]
    assert PortfolioSettings(mandate="ADVISORY").mandate is Mandate.ADVISORY  # type: ignore[arg-type]


def test_settings_change_without_new_targets_is_not_a_subscription() -> None:
    p = DRIFTED.change_settings(replace(DRIFTED.settings, min_order_notional=D(5)))
    assert not p.targets_changed and p.settings.min_order_notional == D(5)


# -- discretionary and advisory ------------------------------------------------------------------


def test_discretionary_recommended_optimization_is_ready_and_blocks(trading_days) -> None:
    evaluation = evaluate(DRIFTED, trading_days)
    assert evaluation.optimization is not None
    assert evaluation.optimization.status is OptimizationStatus.READY
    assert (evaluation.portfolio.blocked_by, evaluation.portfolio.blocked_run_type) == (
        "O1",
        RunType.FULL_REBALANCE,
    )


def test_advisory_waits_for_owner_then_accept_blocks(trading_days) -> None:
    advisory = with_settings(DRIFTED, mandate=Mandate.ADVISORY)
    evaluation = evaluate(advisory, trading_days)
    opt = evaluation.optimization
    assert opt is not None and opt.status is OptimizationStatus.AWAITING_OWNER
    assert evaluation.portfolio.blocked_by is None
    assert evaluation.portfolio.awaiting_owner is not None
    decided = evaluation.portfolio.decide(opt, OwnerChoice.ACCEPT, NOW)
    assert decided.optimization.status is OptimizationStatus.READY
    assert decided.portfolio.blocked_by == "O1" and decided.portfolio.awaiting_owner is None


def test_reject_and_reoptimize(trading_days) -> None:
    evaluation = evaluate(with_settings(DRIFTED, mandate=Mandate.ADVISORY), trading_days)
    assert evaluation.optimization is not None
    rejected = evaluation.portfolio.decide(evaluation.optimization, OwnerChoice.REJECT, NOW)
    assert rejected.optimization.status is OptimizationStatus.REJECTED
    assert rejected.portfolio.awaiting_owner is None and rejected.reoptimize is None
    again = evaluation.portfolio.decide(evaluation.optimization, OwnerChoice.REOPTIMIZE, NOW)
    assert again.optimization.status is OptimizationStatus.SUPERSEDED
    assert again.reoptimize is not None and again.reoptimize.reason is TriggerReason.MANUAL
    new = domain_evaluation.evaluate(
        again.portfolio,
        again.reoptimize,
        MODEL,
        PRICES,
        optimization_id="O2",
        now=NOW,
        today=TODAY,
        trading_days=trading_days,
        max_price_age=timedelta(minutes=15),
    )
    assert new.optimization is not None
    assert new.optimization.status is OptimizationStatus.AWAITING_OWNER  # same day: manual


def test_deciding_an_optimization_that_is_not_waiting_is_illegal(trading_days) -> None:
    evaluation = evaluate(DRIFTED, trading_days)
    assert evaluation.optimization is not None
    with pytest.raises(IllegalTransition):
        evaluation.portfolio.decide(evaluation.optimization, OwnerChoice.ACCEPT, NOW)


def test_newer_recommendation_supersedes_the_waiting_one(trading_days) -> None:
    first = evaluate(with_settings(DRIFTED, mandate=Mandate.ADVISORY), trading_days)
    second = evaluate(
        first.portfolio, trading_days, optimization_id="O2", today=TODAY + timedelta(days=1)
    )
    assert second.superseded_optimization_id == "O1"
    assert second.portfolio.awaiting_owner is not None
    assert second.portfolio.awaiting_owner.optimization_id == "O2"


def test_waiting_optimization_expires(trading_days) -> None:
    first = evaluate(with_settings(DRIFTED, mandate=Mandate.ADVISORY), trading_days)
    assert first.optimization is not None
    early = first.portfolio.expire_if_due(
        first.optimization, NOW + timedelta(hours=1), timedelta(days=1)
    )
    assert early.optimization.status is OptimizationStatus.AWAITING_OWNER
    due = first.portfolio.expire_if_due(
        first.optimization, NOW + timedelta(days=1), timedelta(days=1)
    )
    assert due.optimization.status is OptimizationStatus.EXPIRED
    assert due.portfolio.awaiting_owner is None


# -- external optimizer ----------------------------------------------------------------------


def test_external_optimization_is_validated(trading_days) -> None:
    external = with_settings(DRIFTED, optimizer=OptimizerMode.EXTERNAL)
    assert evaluate(external, trading_days).optimization is None  # rebal does not optimize
    good = [ExternalOrder("A", Side.SELL, D(10)), ExternalOrder("B", Side.BUY, D(10))]
    ok = domain_evaluation.submit_external(
        external, good, PRICES, optimization_id="X1", now=NOW, max_price_age=timedelta(minutes=15)
    )
    assert ok.optimization is not None and ok.optimization.status is OptimizationStatus.READY
    assert ok.optimization.trigger is TriggerReason.EXTERNAL and ok.portfolio.blocked_by == "X1"
    bad = domain_evaluation.submit_external(
        external,
        [ExternalOrder("A", Side.SELL, D(61))],
        PRICES,
        optimization_id="X2",
        now=NOW,
        max_price_age=timedelta(minutes=15),
    )
    assert bad.optimization is not None
    assert bad.optimization.status is OptimizationStatus.NOT_RECOMMENDED
    assert [r.code for r in bad.optimization.reasons] == ["EXTERNAL_SELL_EXCEEDS_HOLDING"]
    assert bad.portfolio.blocked_by is None


def test_external_optimization_refused_for_platform_optimizer() -> None:
    refused = domain_evaluation.submit_external(
        DRIFTED,
        [ExternalOrder("A", Side.SELL, D(1))],
        PRICES,
        optimization_id="X1",
        now=NOW,
        max_price_age=timedelta(minutes=15),
    )
    assert refused.optimization is None and refused.rule == "OPTIMIZER_NOT_EXTERNAL"


# -- the eight InvestSuite process flows ---------------------------------------------------------


@pytest.mark.parametrize(
    ("integration", "mandate", "optimizer"),
    list(itertools.product(BrokerIntegration, Mandate, OptimizerMode)),
)
def test_eight_process_flows_complete_a_cycle(
    trading_days, integration: BrokerIntegration, mandate: Mandate, optimizer: OptimizerMode
) -> None:
    portfolio = with_settings(
        DRIFTED, broker_integration=integration, mandate=mandate, optimizer=optimizer
    )
    # 1. triggered: by rebal's evaluation, or by the external optimizer submitting orders
    if optimizer is OptimizerMode.EXTERNAL:
        orders = [ExternalOrder("A", Side.SELL, D(10)), ExternalOrder("B", Side.BUY, D(10))]
        evaluation = domain_evaluation.submit_external(
            portfolio,
            orders,
            PRICES,
            optimization_id="O1",
            now=NOW,
            max_price_age=timedelta(minutes=15),
        )
    else:
        evaluation = evaluate(portfolio, trading_days)
    opt, portfolio = evaluation.optimization, evaluation.portfolio
    assert opt is not None and opt.is_recommended
    # 2. ready: at once (discretionary) or on ACCEPT (advisory)
    if mandate is Mandate.ADVISORY:
        assert opt.status is OptimizationStatus.AWAITING_OWNER and portfolio.blocked_by is None
        decided = portfolio.decide(opt, OwnerChoice.ACCEPT, NOW)
        opt, portfolio = decided.optimization, decided.portfolio
    assert opt.status is OptimizationStatus.READY and portfolio.blocked_by == "O1"
    assert evaluate(portfolio, trading_days, "manual", optimization_id="O2").optimization is None
    # 3-4. executed (run.completed applies the trades) and settled (run.settled unblocks)
    done = finished(portfolio, {"A": D(-10), "B": D(10)})
    if integration is BrokerIntegration.CLIENT:
        assert done.awaiting_client_holdings_after == NOW
        done = done.apply_holdings_snapshot(
            {"A": D(50), "B": D(50)}, D(0), NOW + timedelta(minutes=1)
        )
    assert done.blocked_by is None and done.awaiting_client_holdings_after is None
    assert done.holdings == {"A": D(50), "B": D(50)}
