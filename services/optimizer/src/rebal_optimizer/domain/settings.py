"""Per-portfolio settings: the three InvestSuite switches plus Alpaca's trading knobs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from rebal_optimizer.domain.cost_model import CostModel
from rebal_optimizer.domain.enums import BrokerIntegration, Mandate, OptimizerMode, RebalanceTo
from rebal_optimizer.domain.errors import InvalidModel, InvalidSettings
from rebal_optimizer.domain.model_portfolio import (
    HUNDRED,
    RebalanceCondition,
    Weight,
    validate_conditions,
    validate_weights,
)
from rebal_optimizer.domain.tax_policy import LotPolicy, WashSaleGuard

MAX_ORDER_RETRIES = 5


@dataclass(frozen=True, slots=True)
class PortfolioSettings:
    mandate: Mandate = Mandate.DISCRETIONARY
    broker_integration: BrokerIntegration = BrokerIntegration.PLATFORM
    optimizer: OptimizerMode = OptimizerMode.PLATFORM
    # Either a model subscription (Alpaca) or the portfolio's own target weights, never both.
    model_id: str | None = None
    own_weights: tuple[Weight, ...] = ()
    own_conditions: tuple[RebalanceCondition, ...] = ()
    own_cooldown_days: int = 0
    fractional_trading: bool = True
    min_order_notional: Decimal = Decimal("1.00")
    cash_buffer_percent: Decimal = Decimal(0)
    invest_cash_threshold: Decimal = Decimal(10)
    active: bool = True
    rebalance_to: RebalanceTo = RebalanceTo.TARGET
    band_edge_margin_percent: Decimal = Decimal(20)  # how far inside the band, % of its width
    lot_policy: LotPolicy = LotPolicy.FIFO  # which lots a sale consumes (lot_selection.py)
    wash_sale_guard: WashSaleGuard = WashSaleGuard.OFF  # `hold`: see wash_sale.py
    # The cost gate (cost_gate.py): a full rebalance costing more than threshold x the value of
    # the drift it removes is skipped; threshold 0 = off.
    commission_per_order: Decimal = Decimal(0)
    spread_bps: Decimal = Decimal(0)
    spread_bps_by_symbol: tuple[tuple[str, Decimal], ...] = ()
    cost_gate_threshold: Decimal = Decimal(0)
    # Orders skipped below the minimum notional join the next run's (carry_forward.py).
    carry_forward_skipped: bool = False
    # Follow-up runs retrying what failed or expired in an adjusted run (retries.py); 0 = none.
    max_order_retries: int = 0

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "mandate", Mandate(self.mandate))
            object.__setattr__(
                self, "broker_integration", BrokerIntegration(self.broker_integration)
            )
            object.__setattr__(self, "optimizer", OptimizerMode(self.optimizer))
            object.__setattr__(self, "rebalance_to", RebalanceTo(self.rebalance_to))
            object.__setattr__(self, "lot_policy", LotPolicy(self.lot_policy))
            object.__setattr__(self, "wash_sale_guard", WashSaleGuard(self.wash_sale_guard))
        except ValueError as exc:
            raise InvalidSettings(str(exc)) from None
        object.__setattr__(self, "own_weights", tuple(self.own_weights))
        object.__setattr__(self, "own_conditions", tuple(self.own_conditions))
        if self.model_id is not None and self.own_weights:
            raise InvalidSettings("a portfolio follows a model or its own weights, not both")
        if (self.own_conditions or self.own_cooldown_days) and not self.own_weights:
            raise InvalidSettings("own conditions and cooldown need own weights")
        try:
            if self.own_weights:
                validate_weights(self.own_weights)
            validate_conditions(self.own_conditions)
        except InvalidModel as exc:
            raise InvalidSettings(f"own weights: {exc.reason}") from None
        if self.own_cooldown_days < 0:
            raise InvalidSettings("own_cooldown_days must be >= 0")
        if self.min_order_notional < 0:
            raise InvalidSettings("min_order_notional must be >= 0")
        if not 0 <= self.cash_buffer_percent < HUNDRED:
            raise InvalidSettings("cash_buffer_percent must be in [0, 100)")
        if self.invest_cash_threshold < 0:
            raise InvalidSettings("invest_cash_threshold must be >= 0")
        if not 0 < self.band_edge_margin_percent <= HUNDRED:
            # 0 would land a breaching position on its band's edge, which still breaches
            raise InvalidSettings("band_edge_margin_percent must be in (0, 100]")
        spreads_given: object = self.spread_bps_by_symbol  # a mapping from the wire, or pairs
        pairs = spreads_given.items() if isinstance(spreads_given, Mapping) else spreads_given
        object.__setattr__(self, "spread_bps_by_symbol", tuple(sorted(pairs)))  # type: ignore[call-overload]
        spreads = (self.spread_bps, *(bps for _, bps in self.spread_bps_by_symbol))
        if self.commission_per_order < 0 or any(bps < 0 for bps in spreads):
            raise InvalidSettings("commission_per_order and spreads must be >= 0")
        if self.cost_gate_threshold < 0:
            raise InvalidSettings("cost_gate_threshold must be >= 0 (0 = off)")
        if not 0 <= self.max_order_retries <= MAX_ORDER_RETRIES:
            raise InvalidSettings(f"max_order_retries must be in [0, {MAX_ORDER_RETRIES}]")

    @property
    def cost_model(self) -> CostModel:
        return CostModel(self.commission_per_order, self.spread_bps, self.spread_bps_by_symbol)

    @property
    def follows_model(self) -> bool:
        return self.model_id is not None

    def targets_differ(self, other: PortfolioSettings) -> bool:
        """A new subscription or new own weights: Alpaca starts a run on subscription."""
        return self.model_id != other.model_id or self.own_weights != other.own_weights
