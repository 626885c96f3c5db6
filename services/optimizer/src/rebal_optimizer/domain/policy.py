"""What a portfolio steers toward: its model's weights and conditions, or its own (or a manual
run's one-off weights), and the cash it has beyond its targets."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from rebal_optimizer.domain.drift import portfolio_value
from rebal_optimizer.domain.enums import ConditionType, ModelStatus
from rebal_optimizer.domain.model_portfolio import (
    HUNDRED,
    ZERO,
    ModelPortfolio,
    RebalanceCondition,
    TargetWeights,
    Weight,
)
from rebal_optimizer.domain.portfolio import Portfolio
from rebal_optimizer.domain.prices import Prices
from rebal_optimizer.domain.settings import PortfolioSettings
from rebal_optimizer.domain.triggers import Trigger


@dataclass(frozen=True, slots=True)
class Policy:
    """What a portfolio steers toward: its model's weights and conditions, or its own."""

    weights: tuple[Weight, ...]
    conditions: tuple[RebalanceCondition, ...] = ()
    cooldown_days: int = 0
    model_id: str | None = None
    model_status: ModelStatus = ModelStatus.ACTIVE
    # (ineligible symbol, the fallback `weights` name instead) while it is ineligible
    fallbacks: tuple[tuple[str, str], ...] = ()

    @property
    def fallback_map(self) -> dict[str, str]:
        return dict(self.fallbacks)

    @property
    def targets(self) -> TargetWeights:
        return TargetWeights.from_weights(self.weights)

    @property
    def has_calendar(self) -> bool:
        return any(c.type is ConditionType.CALENDAR for c in self.conditions)

    @property
    def drift_bands(self) -> tuple[RebalanceCondition, ...]:
        return tuple(c for c in self.conditions if c.type is ConditionType.DRIFT_BAND)


def resolve_policy(
    settings: PortfolioSettings, model: ModelPortfolio | None, trigger: Trigger | None = None
) -> Policy | None:
    if trigger is not None and trigger.weights and not settings.follows_model:
        return Policy(trigger.weights)  # a one-off manual run with its own weights
    if settings.model_id is not None:
        if model is None or model.model_id != settings.model_id:
            return None
        return Policy(
            model.weights,
            model.rebalance_conditions,
            model.cooldown_days,
            model.model_id,
            model.status,
        )
    if settings.own_weights:
        return Policy(settings.own_weights, settings.own_conditions, settings.own_cooldown_days)
    return None


def uninvested_cash(portfolio: Portfolio, policy: Policy, prices: Prices) -> Decimal:
    """Cash above the cash target + buffer + pending withdrawal (same formula as the orders)."""
    total = portfolio_value(portfolio.holdings, portfolio.cash, prices)
    effective = policy.targets.with_cash_buffer(portfolio.settings.cash_buffer_percent)
    reserved = portfolio.pending_withdrawal
    investable = max(ZERO, total - reserved)
    return portfolio.cash - investable * effective.cash / HUNDRED - reserved
