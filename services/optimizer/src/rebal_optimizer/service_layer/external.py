"""An external optimizer's own NOT_RECOMMENDED answer, recorded as a decision (never executed)."""

from __future__ import annotations

from rebal_optimizer.domain import PortfolioAccount
from rebal_optimizer.service_layer import messages
from rebal_schemas import (
    Event,
    OptimizationSubmitted,
    OptimizerMode,
    PlannedOrder,
    Reason,
    RunInitiator,
    RunType,
    TriggerReason,
)


def not_recommended_external(
    record: PortfolioAccount, event: OptimizationSubmitted, producer: str
) -> Event:
    """The external optimizer itself does not recommend it: recorded, never executed."""
    ranked = sorted(event.orders, key=lambda o: (o.side.value != "sell", o.symbol))
    orders = [
        PlannedOrder(leg=leg, symbol=o.symbol, side=o.side, qty=o.qty, notional=o.notional)
        for leg, o in enumerate(ranked, start=1)
    ]
    settings = record.portfolio.settings
    return messages.not_recommended(
        optimization_id=event.external_optimization_id,
        portfolio_id=record.portfolio_id,
        account_id=record.account_id,
        mandate=str(settings.mandate),
        broker_integration=str(settings.broker_integration),
        run_type=RunType.full_rebalance,
        trigger=TriggerReason.external,
        initiated_from=RunInitiator.api,
        source=OptimizerMode.EXTERNAL,
        decision=(),
        reasons=(Reason(code="NOT_RECOMMENDED_BY_EXTERNAL_OPTIMIZER"), *event.reasons),
        cause=event,
        producer=producer,
        orders=orders,
    )
