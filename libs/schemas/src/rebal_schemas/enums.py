"""The enums of the wire: Alpaca's and InvestSuite's names, values as they travel."""

from __future__ import annotations

from enum import StrEnum


class Mandate(StrEnum):
    ADVISORY = "ADVISORY"
    DISCRETIONARY = "DISCRETIONARY"


class BrokerIntegration(StrEnum):
    PLATFORM = "PLATFORM"
    CLIENT = "CLIENT"


class OptimizerMode(StrEnum):
    PLATFORM = "PLATFORM"
    EXTERNAL = "EXTERNAL"


class ModelStatus(StrEnum):
    """Alpaca's portfolio (model) status."""

    active = "active"
    inactive = "inactive"
    needs_adjustment = "needs_adjustment"


class RunType(StrEnum):
    """Alpaca's `PortfolioRunType`, plus `withdrawal` (InvestSuite's divest run)."""

    full_rebalance = "full_rebalance"
    invest_cash = "invest_cash"
    withdrawal = "withdrawal"


class PortfolioRunType(StrEnum):
    """Alpaca's `PortfolioRunType`: the `type` of a run object. A withdrawal run (the optimizer's
    `withdrawal`, InvestSuite's divest) is Alpaca's `partial_liquidation`."""

    full_rebalance = "full_rebalance"
    invest_cash = "invest_cash"
    partial_liquidation = "partial_liquidation"

    @classmethod
    def of(cls, run_type: RunType) -> PortfolioRunType:
        if run_type is RunType.withdrawal:
            return cls.partial_liquidation
        return cls(run_type.value)


class RunInitiator(StrEnum):
    """Alpaca's `initiated_from`."""

    system = "system"
    api = "api"
    dashboard = "dashboard"


class RunStatus(StrEnum):
    """Alpaca's run statuses."""

    QUEUED = "QUEUED"
    IN_PROGRESS = "IN_PROGRESS"
    CANCELED = "CANCELED"
    CANCELED_MID_RUN = "CANCELED_MID_RUN"
    ERROR = "ERROR"
    TIMEOUT = "TIMEOUT"
    COMPLETED_ADJUSTED = "COMPLETED_ADJUSTED"
    COMPLETED_SUCCESS = "COMPLETED_SUCCESS"

    @property
    def is_final(self) -> bool:
        return self not in (RunStatus.QUEUED, RunStatus.IN_PROGRESS)


class OrderStatus(StrEnum):
    """The Alpaca order statuses a run's order can end in (or be seen in) on a run object."""

    new = "new"
    accepted = "accepted"
    partially_filled = "partially_filled"
    filled = "filled"
    canceled = "canceled"
    expired = "expired"
    rejected = "rejected"


class TransactionStatus(StrEnum):
    """InvestSuite movement statuses used for rebalancing transactions."""

    PLANNED = "PLANNED"
    EXECUTED = "EXECUTED"
    SETTLED = "SETTLED"
    NOT_EXECUTED = "NOT_EXECUTED"
    EXPIRED = "EXPIRED"
    CANCELLED = "CANCELLED"


class OrderSide(StrEnum):
    buy = "buy"
    sell = "sell"


class RebalanceTo(StrEnum):
    """How far a full rebalance trades: back to target (Alpaca), or only what breaches its
    drift band, to just inside it (`band_edge`)."""

    target = "target"
    band_edge = "band_edge"


class LotPolicy(StrEnum):
    """Which tax lots a sale consumes: oldest first (`fifo`), dearest first (`hifo`), or losses
    first, then long-term gains, short-term gains last (`tax_min`)."""

    fifo = "fifo"
    hifo = "hifo"
    tax_min = "tax_min"


class WashSaleGuard(StrEnum):
    """`hold`: a buy within 30 days after the symbol was sold at a loss is held back."""

    off = "off"
    hold = "hold"


class OwnerChoice(StrEnum):
    """InvestSuite's `owner_choice` for advisory optimizations."""

    ACCEPT = "ACCEPT"
    REJECT = "REJECT"
    REOPTIMIZE = "REOPTIMIZE"


class OptimizationStatus(StrEnum):
    CREATED = "CREATED"
    NOT_RECOMMENDED = "NOT_RECOMMENDED"
    AWAITING_OWNER = "AWAITING_OWNER"
    READY = "READY"
    REJECTED = "REJECTED"
    SUPERSEDED = "SUPERSEDED"
    EXPIRED = "EXPIRED"


class TriggerReason(StrEnum):
    """Why a portfolio was evaluated."""

    calendar = "calendar"
    nightly = "nightly"
    drift_sweep = "drift_sweep"
    manual = "manual"
    model_changed = "model_changed"
    holdings = "holdings"
    deposit = "deposit"
    withdrawal = "withdrawal"
    settings = "settings"
    external = "external"


class RejectionCode(StrEnum):
    """Why a client request was refused (`request.rejected`): the rule that held it."""

    OWN_WEIGHTS_WHILE_SUBSCRIBED = "OWN_WEIGHTS_WHILE_SUBSCRIBED"
    MODEL_UNKNOWN = "MODEL_UNKNOWN"
    MODEL_INACTIVE = "MODEL_INACTIVE"
    MODEL_IN_USE = "MODEL_IN_USE"
    ALREADY_SUBSCRIBED = "ALREADY_SUBSCRIBED"
    RUN_UNKNOWN = "RUN_UNKNOWN"
    RUN_FINAL = "RUN_FINAL"
    RUN_NOT_FINAL = "RUN_NOT_FINAL"
    OPTIMIZATION_EXPIRED = "OPTIMIZATION_EXPIRED"
    OPTIMIZATION_UNKNOWN = "OPTIMIZATION_UNKNOWN"
    PORTFOLIO_UNKNOWN = "PORTFOLIO_UNKNOWN"
    PORTFOLIO_INACTIVE = "PORTFOLIO_INACTIVE"
    BLOCKED = "BLOCKED"
    COOLDOWN = "COOLDOWN"
    DAILY_LIMIT = "DAILY_LIMIT"
    IN_BAND = "IN_BAND"
    MODEL_NEEDS_ADJUSTMENT = "MODEL_NEEDS_ADJUSTMENT"
    AWAITING_CLIENT_HOLDINGS = "AWAITING_CLIENT_HOLDINGS"
    EXTERNAL_OPTIMIZER = "EXTERNAL_OPTIMIZER"
    NO_TARGET_WEIGHTS = "NO_TARGET_WEIGHTS"


class CloseReason(StrEnum):
    """How an order ended without a (full) fill; Alpaca order statuses plus InvestSuite's."""

    rejected = "rejected"
    expired = "expired"
    canceled = "canceled"
    not_executed = "not_executed"
