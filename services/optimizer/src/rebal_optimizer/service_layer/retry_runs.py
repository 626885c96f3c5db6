"""run.completed -> the legs a retry would send again (domain/retries.py decides whether), and
the retry run itself once the portfolio is no longer blocked."""

from __future__ import annotations

from datetime import datetime

from rebal_optimizer.domain import PortfolioAccount, RunType, Side
from rebal_optimizer.domain.model_portfolio import ZERO
from rebal_optimizer.domain.retries import note_run_outcome, plan_retry, retry_due
from rebal_optimizer.domain.retry_state import RetryLeg
from rebal_optimizer.service_layer import messages
from rebal_optimizer.service_layer.evaluation import Answer, Evaluator
from rebal_optimizer.service_layer.ports import ReferenceData
from rebal_optimizer.service_layer.unit_of_work import Outcome
from rebal_runtime.log import get_logger
from rebal_schemas import (
    OrderStatus,
    PortfolioRunType,
    RunCompleted,
    RunInitiator,
    RunSettled,
    RunStatus,
)
from rebal_schemas import RunType as WireRunType

log = get_logger(__name__)

# An order that ended without filling what was asked: the broker expired, canceled or
# rejected it (run.completed lists it among `orders` when it filled in part).
UNFILLED_END = frozenset({OrderStatus.expired, OrderStatus.canceled, OrderStatus.rejected})


def retry_legs(event: RunCompleted) -> tuple[RetryLeg, ...]:
    """What each unfilled order of the run left undone: its remaining quantity, or for an
    order by notional its remaining amount (what the filled part did not spend)."""
    legs = []
    for order in (*event.orders, *event.failed_orders):
        if order.status not in UNFILLED_END:
            continue
        side = Side(order.side.value)
        if order.qty is not None:
            remaining = order.qty - order.filled_qty
            if remaining > 0:
                legs.append(RetryLeg(order.symbol, side, qty=remaining))
        elif order.notional is not None:
            spent = order.filled_qty * (order.filled_avg_price or ZERO)
            if order.notional - spent > 0:
                legs.append(RetryLeg(order.symbol, side, notional=order.notional - spent))
    return tuple(legs)


def noted(account: PortfolioAccount, event: RunCompleted) -> PortfolioAccount:
    run_type = RunType.WITHDRAWAL
    if event.type is not PortfolioRunType.partial_liquidation:
        run_type = RunType(event.type.value)
    portfolio = note_run_outcome(
        account.portfolio,
        event.run_id,
        adjusted=event.status is RunStatus.COMPLETED_ADJUSTED and not event.replan,
        legs=retry_legs(event),
        run_type=run_type,
        executed_nothing=event.status is RunStatus.ERROR and not event.replan,
    )
    return account if portfolio == account.portfolio else account.with_portfolio(portfolio)


async def retry_if_due(
    evaluator: Evaluator,
    reference: ReferenceData,
    record: PortfolioAccount,
    event: RunCompleted | RunSettled,
    now: datetime,
) -> Outcome | None:
    """The follow-up run retrying an adjusted run's unfilled legs, once the portfolio is no
    longer blocked (retries.py). Always answered: its decision record says RETRY."""
    pending = retry_due(record.portfolio)
    if pending is None:
        return None
    log.info("retry", retry_of=pending.retry_of, attempt=pending.attempt, run_id=event.run_id)
    prices = await reference.prices({leg.symbol for leg in pending.legs})
    optimization_id = messages.optimization_id_for(
        messages.derived_id(event.event_id, "retry"), record.portfolio_id
    )
    evaluation = plan_retry(
        record.portfolio,
        pending,
        prices,
        optimization_id=optimization_id,
        now=now,
        max_price_age=evaluator.config.max_price_age,
    )
    answer = Answer(
        event,
        RunInitiator.system,
        explicit=True,
        run_type=WireRunType(str(pending.run_type)),
        optimization_id=optimization_id,
    )
    return evaluator.outcome(record, evaluation, answer, now)
