"""A run's outcome on the portfolio account (domain/runs.py): the trades applied once, by
run.completed or run.settled, whichever comes first; unblocked at settlement or at execution;
the cooldown's start; the CLIENT integration's wait for the client's holdings and its deadline."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal as D

import pytest

from rebal_optimizer.domain import (
    CLIENT_HOLDINGS_LATE,
    BrokerIntegration,
    ExternalOrder,
    ModelPortfolio,
    OptimizerMode,
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

from .conftest import NOW, TODAY

MODEL = ModelPortfolio(
    "m1",
    "Balanced",
    (Weight("asset", "A", D(50)), Weight("asset", "B", D(50))),
    rebalance_conditions=(RebalanceCondition("drift_band", "absolute", percent=D(5)),),
)

WAIT = timedelta(days=1)
RUN = RunResult("O1", {"A": D(-10), "B": D(10)}, D("-0.02"), NOW)
BLOCKED = Portfolio(
    "P1",
    {"A": D(60), "B": D(40)},
    D(0),
    PortfolioSettings(model_id="m1"),
    blocked_by="O1",
    blocked_run_type=RunType.FULL_REBALANCE,
    blocked_at=NOW,
    funded=True,
)
COMPLETED_ON = TODAY + timedelta(days=1)  # the completion's day; the last execution is TODAY


def account(integration: BrokerIntegration = BrokerIntegration.PLATFORM) -> PortfolioAccount:
    settings = replace(BLOCKED.settings, broker_integration=integration)
    return PortfolioAccount(replace(BLOCKED, settings=settings), "acc")


def complete(
    acc: PortfolioAccount, *, unblock: bool = False, run: RunResult = RUN
) -> PortfolioAccount:
    done = run_completed(acc, run, completed_on=COMPLETED_ON, unblock=unblock)
    return done.account if done is not None else acc


def settle(acc: PortfolioAccount, run: RunResult = RUN) -> PortfolioAccount:
    done = run_settled(acc, run, executed_on=TODAY)
    return done.account if done is not None else acc


def test_completion_applies_the_trades_and_settlement_unblocks() -> None:
    done = run_completed(account(), RUN, completed_on=COMPLETED_ON, unblock=False)
    assert done is not None and done.applied and not done.unblocked
    portfolio = done.account.portfolio
    assert portfolio.holdings == {"A": D(50), "B": D(50)} and portfolio.cash == D("-0.02")
    assert portfolio.blocked_by == "O1" and portfolio.last_rebalanced_at == COMPLETED_ON
    unblocked = run_settled(done.account, RUN, executed_on=TODAY)
    assert unblocked is not None and unblocked.unblocked and not unblocked.applied
    assert unblocked.account.portfolio == replace(
        portfolio, blocked_by=None, blocked_run_type=None, blocked_at=None
    )


def test_unblock_on_execution_unblocks_at_completion() -> None:
    done = run_completed(account(), RUN, completed_on=COMPLETED_ON, unblock=True)
    assert done is not None and done.applied and done.unblocked
    assert run_settled(done.account, RUN, executed_on=TODAY) is None  # nothing left to do


def test_settled_first_applies_the_trades_and_unblocks() -> None:
    done = run_settled(account(), RUN, executed_on=TODAY)
    assert done is not None and done.applied and done.unblocked
    assert done.account.portfolio.holdings == {"A": D(50), "B": D(50)}
    assert done.account.portfolio.last_rebalanced_at == TODAY  # until the completion's day
    late = run_completed(done.account, RUN, completed_on=COMPLETED_ON, unblock=False)
    assert late is not None and not late.applied
    assert late.account.portfolio.last_rebalanced_at == COMPLETED_ON
    assert late.account.portfolio.holdings == {"A": D(50), "B": D(50)}  # not twice


@pytest.mark.parametrize("unblock", [False, True])
@pytest.mark.parametrize("integration", list(BrokerIntegration))
def test_every_arrival_order_and_duplicate_gives_the_same_state(
    integration: BrokerIntegration, unblock: bool
) -> None:
    steps = {
        "completed": lambda a: complete(a, unblock=unblock),
        "settled": settle,
    }
    finals = []
    for order in itertools.permutations(["completed", "settled", "completed", "settled"]):
        acc = account(integration)
        for name in order:
            acc = steps[name](acc)
        finals.append(acc)
    final = finals[0]
    assert all(f == final for f in finals)
    assert final.portfolio.blocked_by is None and final.recent_runs == ("O1",)
    assert final.portfolio.holdings == {"A": D(50), "B": D(50)}
    assert final.portfolio.last_rebalanced_at == COMPLETED_ON


def test_a_run_that_does_not_block_the_portfolio_changes_nothing() -> None:
    other = replace(RUN, optimization_id="O9")
    assert run_completed(account(), other, completed_on=COMPLETED_ON, unblock=True) is None
    assert run_settled(account(), other, executed_on=TODAY) is None


def test_invest_cash_does_not_start_the_cooldown() -> None:
    acc = replace(account(), portfolio=replace(BLOCKED, blocked_run_type=RunType.INVEST_CASH))
    assert settle(acc).portfolio.last_rebalanced_at is None
    done = run_completed(acc, RUN, completed_on=None, unblock=True)  # not a full rebalance
    assert done is not None and done.account.portfolio.last_rebalanced_at is None


def test_cooldown_start_never_moves_back() -> None:
    later = replace(BLOCKED, last_rebalanced_at=COMPLETED_ON + timedelta(days=3))
    done = complete(replace(account(), portfolio=later))
    assert done.portfolio.last_rebalanced_at == COMPLETED_ON + timedelta(days=3)


def test_an_executed_sale_beyond_the_holding_is_clamped() -> None:
    oversold = replace(RUN, holdings_delta={"A": D(-70)})
    done = run_completed(account(), oversold, completed_on=COMPLETED_ON, unblock=False)
    assert done is not None and "A" not in done.account.portfolio.holdings
    assert [(c.symbol, c.delta, c.held) for c in done.clamps] == [("A", D(-70), D(60))]


# -- CLIENT integration: the client's holdings, and the deadline -----------------------------------


def test_client_completion_books_the_trades_and_waits_for_newer_holdings() -> None:
    done = complete(account(BrokerIntegration.CLIENT)).portfolio
    assert done.holdings == {"A": D(50), "B": D(50)}  # the optimizer's own book
    assert done.awaiting_client_holdings_after == NOW and done.holdings_as_of == NOW
    older = done.apply_holdings_snapshot({"A": D(60), "B": D(40)}, D(0), NOW)
    assert older == done  # not newer than the last execution: cannot show the run
    newer = done.apply_holdings_snapshot({"A": D(51)}, D(1), NOW + timedelta(minutes=1))
    assert newer.holdings == {"A": D(51)} and newer.awaiting_client_holdings_after is None


def test_client_holdings_newer_than_the_run_already_show_its_trades() -> None:
    acc = account(BrokerIntegration.CLIENT)
    reported = acc.portfolio.apply_holdings_snapshot(
        {"A": D(50), "B": D(50)}, D(0), NOW + timedelta(minutes=1)
    )
    done = complete(acc.with_portfolio(reported)).portfolio
    assert done.holdings == {"A": D(50), "B": D(50)}  # not applied a second time
    assert done.awaiting_client_holdings_after is None


def client_waiting() -> Portfolio:
    return settle(complete(account(BrokerIntegration.CLIENT))).portfolio


def test_client_wait_stops_evaluations_until_its_deadline(trading_days) -> None:
    waiting = client_waiting()
    before = NOW + WAIT - timedelta(seconds=1)
    stopped = _evaluate(waiting, trading_days, before)
    assert stopped.optimization is None
    assert [(c.name, c.met) for c in stopped.decision][-1] == ("awaiting_client_holdings", True)
    assert _evaluate(waiting, trading_days, before, wait=None).optimization is None  # no deadline


def test_after_the_deadline_it_optimizes_on_its_own_book_and_says_so(trading_days) -> None:
    waiting = client_waiting()
    drifted = waiting.apply_holdings_delta({"A": D(20)}, D(100))  # something to rebalance
    late = _evaluate(drifted, trading_days, NOW + WAIT)
    opt = late.optimization
    assert opt is not None and opt.is_recommended
    line = next(c for c in opt.decision if c.name == "client_holdings_late")
    assert line.met and line.value == NOW.isoformat() and line.threshold == (NOW + WAIT).isoformat()
    assert ("awaiting_client_holdings", False) in [(c.name, c.met) for c in opt.decision]
    assert [r.code for r in opt.reasons][-1] == CLIENT_HOLDINGS_LATE
    assert late.portfolio.awaiting_client_holdings_after is None  # proceeded: said once
    assert late.portfolio.holdings == {"A": D(70), "B": D(50)}  # the book it was optimized on


def test_an_external_optimization_after_the_deadline_says_so_too() -> None:
    external = client_waiting()
    external = replace(
        external, settings=replace(external.settings, optimizer=OptimizerMode.EXTERNAL)
    )
    orders = [ExternalOrder("A", Side.SELL, D(1))]

    def submit(wait: timedelta) -> domain_evaluation.Evaluation:
        return domain_evaluation.submit_external(
            external,
            orders,
            prices(NOW),
            optimization_id="X1",
            now=NOW,
            max_price_age=timedelta(minutes=15),
            client_holdings_wait=wait,
        )

    assert submit(WAIT).rule == "AWAITING_CLIENT_HOLDINGS"
    late = submit(timedelta(0))
    assert late.optimization is not None and late.optimization.is_recommended
    assert late.optimization.reasons[-1].code == CLIENT_HOLDINGS_LATE
    assert any(c.name == "client_holdings_late" for c in late.decision)
    assert late.portfolio.awaiting_client_holdings_after is None


def prices(now: datetime) -> dict[str, Price]:
    return {"A": Price(D(10), True, True, now), "B": Price(D(10), True, True, now)}


def _evaluate(
    portfolio: Portfolio, trading_days, now: datetime, *, wait: timedelta | None = WAIT
) -> domain_evaluation.Evaluation:
    return domain_evaluation.evaluate(
        portfolio,
        Trigger(TriggerReason.NIGHTLY),
        MODEL,
        prices(now),
        optimization_id="O2",
        now=now,
        today=date(now.year, now.month, now.day),
        trading_days=trading_days,
        max_price_age=timedelta(minutes=15),
        client_holdings_wait=wait,
    )
