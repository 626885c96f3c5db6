"""Self-healing runs: what failed or expired in a `COMPLETED_ADJUSTED` run is retried as a
follow-up run, without a new trigger, up to `max_order_retries` times (`retry_of` names the
original run; every retry of it names the same one).

The optimizer owns what to trade, so it decides the retry: at the run's `run.completed` it notes
the legs that ended unfilled (`PendingRetry`), and once the portfolio is no longer blocked (the
run unblocked it, on run.settled or already on run.completed) it plans the retry: each leg's
remaining quantity, re-priced, a sale no larger than the holding, buys no larger than the cash
and what the sales raise, legs below the minimum notional left out. The order-router queues it
for the next execution window like any run. A run that completed in full ends the chain; a
retry that fails again (in part, or as a whole: ERROR) counts one attempt more, and past the
limit nothing is retried.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal, localcontext

from rebal_optimizer.domain.allocation import PRECISION, ZERO, floor_cents, floor_qty
from rebal_optimizer.domain.enums import BrokerIntegration, Initiator, RunType, Side, TriggerReason
from rebal_optimizer.domain.evaluation import Evaluation
from rebal_optimizer.domain.optimization import Optimization
from rebal_optimizer.domain.order_plan import Order, SkippedOrder
from rebal_optimizer.domain.portfolio import Portfolio
from rebal_optimizer.domain.prices import Prices, trading_problems, valuation_problems
from rebal_optimizer.domain.reasons import NOTHING_TO_TRADE, RETRY, Reason
from rebal_optimizer.domain.retry_state import PendingRetry, RetryLeg, RetryLink
from rebal_optimizer.domain.triggers import ConditionEvaluation


def note_run_outcome(
    portfolio: Portfolio,
    run_id: str,
    *,
    adjusted: bool,
    legs: Iterable[RetryLeg],
    run_type: RunType | None,
    executed_nothing: bool = False,
) -> Portfolio:
    """At run.completed: a retry to plan for an adjusted run's unfilled legs (within the limit);
    a finished retry run's link cleared. A retry run that executed nothing (ERROR) failed as a
    whole: it counts an attempt like an adjusted one. Re-reading the same run.completed changes
    nothing."""
    link = portfolio.retry_link
    ours = link is not None and link.optimization_id == run_id
    pending = portfolio.pending_retry
    if pending is not None and pending.failed_run == run_id:
        return portfolio  # noted already
    cleared = replace(portfolio, retry_link=None) if ours else portfolio
    undone = tuple(legs)
    if not (adjusted or (ours and executed_nothing)) or not undone or run_type is None:
        return cleared
    if portfolio.settings.broker_integration is not BrokerIntegration.PLATFORM:
        return cleared  # the client executes a CLIENT run: it decides what to send again
    root, attempt = (link.retry_of, link.attempt + 1) if ours and link else (run_id, 1)
    if attempt > portfolio.settings.max_order_retries:
        return cleared
    return replace(
        cleared, pending_retry=PendingRetry(root, run_id, attempt, RunType(run_type), undone)
    )


def retry_due(portfolio: Portfolio) -> PendingRetry | None:
    """The retry to plan now: one is pending and no run blocks the portfolio."""
    if portfolio.blocked_by is not None or portfolio.awaiting_owner is not None:
        return None
    return portfolio.pending_retry


def plan_retry(
    portfolio: Portfolio,
    pending: PendingRetry,
    prices: Prices,
    *,
    optimization_id: str,
    now: datetime,
    max_price_age: timedelta,
) -> Evaluation:
    """The follow-up run for `pending` (module docstring); the portfolio forgets the pending
    retry and, when the run is recommended, links it so its own outcome counts the attempt."""
    symbols = {leg.symbol for leg in pending.legs}
    problems = valuation_problems(symbols, prices, now, max_price_age) + trading_problems(
        symbols, prices
    )
    orders: tuple[Order, ...] = ()
    skipped: tuple[SkippedOrder, ...] = ()
    if not problems:
        with localcontext(prec=PRECISION):
            orders, skipped = _retry_orders(portfolio, pending, prices)
    note = Reason(
        RETRY,
        None,
        f"retry {pending.attempt} of {portfolio.settings.max_order_retries} of run "
        f"{pending.retry_of}: what failed or expired in run {pending.failed_run}",
    )
    reasons = (*problems, note) if orders or problems else (Reason(NOTHING_TO_TRADE), note)
    record = (
        ConditionEvaluation(
            "retry", True, value=str(pending.attempt), detail=f"retry_of {pending.retry_of}"
        ),
    )
    optimization = Optimization(
        optimization_id=optimization_id,
        portfolio_id=portfolio.portfolio_id,
        run_type=pending.run_type,
        trigger=TriggerReason.MANUAL,
        initiated_from=Initiator.SYSTEM,
        mandate=portfolio.settings.mandate,
        is_recommended=bool(orders) and not problems,
        orders=orders if not problems else (),
        skipped_orders=skipped,
        reasons=reasons,
        decision=record,
        weights=(),
        created_at=now,
        retry_of=pending.retry_of,
    ).first_move(now)
    forgotten = replace(portfolio, pending_retry=None)
    updated, superseded = forgotten.evaluated(optimization, waiting=portfolio.waiting_for)
    if optimization.is_recommended:
        updated = replace(
            updated, retry_link=RetryLink(optimization_id, pending.retry_of, pending.attempt)
        )
    return Evaluation(updated, optimization, record, None, superseded)


def _retry_orders(
    portfolio: Portfolio, pending: PendingRetry, prices: Prices
) -> tuple[tuple[Order, ...], tuple[SkippedOrder, ...]]:
    settings = portfolio.settings
    minimum = settings.min_order_notional
    sized: list[tuple[str, Side, Decimal, Decimal]] = []
    skipped: list[SkippedOrder] = []
    budget = portfolio.cash - portfolio.pending_withdrawal
    legs = sorted(pending.legs, key=lambda leg: (leg.side is not Side.SELL, leg.symbol))
    for leg in legs:
        quote = prices[leg.symbol]
        whole = not (settings.fractional_trading and quote.fractionable)
        if leg.qty is not None:
            qty = floor_qty(leg.qty * quote.price, quote.price, whole) if whole else leg.qty
        else:
            qty = floor_qty(leg.notional or ZERO, quote.price, whole)
        if leg.side is Side.SELL:
            qty = min(qty, portfolio.holdings.get(leg.symbol, ZERO))
        else:
            qty = min(qty, floor_qty(max(ZERO, budget), quote.price, whole))
        notional = floor_cents(qty * quote.price)
        if qty <= 0 or notional < minimum or notional <= 0:
            detail = f"retry of {notional} is below the minimum {minimum} or not funded"
            skipped.append(SkippedOrder(leg.symbol, leg.side, notional, reason_details=detail))
            continue
        budget += notional if leg.side is Side.SELL else -notional
        sized.append((leg.symbol, leg.side, qty, notional))
    orders = tuple(
        Order(leg, symbol, side, qty, notional, prices[symbol].price)
        for leg, (symbol, side, qty, notional) in enumerate(sized, start=1)
    )
    return orders, tuple(skipped)
