"""Optimization topics: `optimization.submitted`, `.created`, `.decided`, `.ready` (key `portfolio_id`)."""

from __future__ import annotations

from typing import Annotated, Literal, TypeAlias

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from rebal_schemas.enums import (
    BrokerIntegration,
    Mandate,
    OptimizationStatus,
    OptimizerMode,
    OwnerChoice,
    RunInitiator,
    RunType,
    TriggerReason,
)
from rebal_schemas.envelope import Event
from rebal_schemas.events.orders import MAX_RUN_LOTS, PlannedOrder, ProposedOrder, SkippedOrder
from rebal_schemas.model_portfolio import Weights, check_weights
from rebal_schemas.types import MAX_ID_LENGTH, MAX_POSITIONS, EntityId, Money, PositiveMoney

SUBMITTED = "optimization.submitted"
CREATED = "optimization.created"
DECIDED = "optimization.decided"
READY = "optimization.ready"

MAX_EXTERNAL_REASONS = 50
MAX_REASON_DETAIL = 1024


class ConditionEvaluation(BaseModel):
    """One line of the decision record: what was checked, its value, and whether it was met."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    name: str
    met: bool
    value: str | None = None
    threshold: str | None = None
    detail: str = ""


class Reason(BaseModel):
    """Why an optimization is or is not recommended (InvestSuite `portfolio_update.reasons[]`)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    code: str
    detail: str = ""


def check_run_lots(orders: tuple[PlannedOrder, ...]) -> None:
    if sum(len(o.lots) for o in orders) > MAX_RUN_LOTS:
        raise ValueError(f"the sales of one optimization list at most {MAX_RUN_LOTS} lots")


class OptimizationSubmitted(Event):
    """An optimization computed outside rebal (InvestSuite's external optimizer)."""

    TOPIC = SUBMITTED
    event_type: Literal["optimization.submitted"] = "optimization.submitted"
    portfolio_id: EntityId
    external_optimization_id: EntityId
    orders: tuple[ProposedOrder, ...] = Field(max_length=MAX_POSITIONS)
    is_recommended: bool = True
    reasons: tuple[Reason, ...] = Field(default=(), max_length=MAX_EXTERNAL_REASONS)

    @model_validator(mode="after")
    def _bounded_reasons(self) -> OptimizationSubmitted:
        # They are copied into optimization.created: an unbounded text would make it unpublishable.
        for reason in self.reasons:
            if len(reason.code) > MAX_ID_LENGTH or len(reason.detail) > MAX_REASON_DETAIL:
                raise ValueError(
                    f"a reason has a code of at most {MAX_ID_LENGTH} and a detail of at most "
                    f"{MAX_REASON_DETAIL} characters"
                )
        return self


class OptimizationCreated(Event):
    """Every computed optimization, recommended or not, with its decision record."""

    TOPIC = CREATED
    event_type: Literal["optimization.created"] = "optimization.created"
    optimization_id: EntityId
    portfolio_id: EntityId
    account_id: EntityId
    run_type: RunType
    status: OptimizationStatus
    is_recommended: bool
    trigger: TriggerReason
    initiated_from: RunInitiator = RunInitiator.system
    source: OptimizerMode = OptimizerMode.PLATFORM
    mandate: Mandate
    broker_integration: BrokerIntegration
    weights: Weights = ()
    orders: tuple[PlannedOrder, ...] = ()
    skipped_orders: tuple[SkippedOrder, ...] = ()
    decision: tuple[ConditionEvaluation, ...] = ()
    reasons: tuple[Reason, ...] = ()
    amount: PositiveMoney | None = None
    shortfall: Money | None = None
    expires_at: AwareDatetime | None = None
    retry_of: EntityId | None = Field(
        default=None,
        description="beyond Alpaca: this run retries what failed or expired in that run (the "
        "original run id; every retry of it names the same one)",
    )

    @model_validator(mode="after")
    def _lots_bounded(self) -> OptimizationCreated:
        check_run_lots(self.orders)
        return self


class OptimizationStatusChanged(Event):
    """A later lifecycle step of an optimization (InvestSuite `optimizations.status-update`)."""

    TOPIC = CREATED
    event_type: Literal["optimization.status_changed"] = "optimization.status_changed"
    optimization_id: EntityId
    portfolio_id: EntityId
    status: OptimizationStatus
    owner_choice: OwnerChoice | None = None
    detail: str = ""


class OptimizationDecided(Event):
    """The owner's choice on an advisory optimization."""

    TOPIC = DECIDED
    event_type: Literal["optimization.decided"] = "optimization.decided"
    optimization_id: EntityId
    portfolio_id: EntityId
    owner_choice: OwnerChoice


class OptimizationReady(Event):
    """Orders ready to execute; the portfolio is blocked until the run completes."""

    TOPIC = READY
    event_type: Literal["optimization.ready"] = "optimization.ready"
    optimization_id: EntityId = Field(description="also the run id")
    portfolio_id: EntityId
    account_id: EntityId
    run_type: RunType
    broker_integration: BrokerIntegration
    initiated_from: RunInitiator = RunInitiator.system
    orders: tuple[PlannedOrder, ...]
    skipped_orders: tuple[SkippedOrder, ...] = ()
    weights: Weights = ()
    amount: PositiveMoney | None = None
    retry_of: EntityId | None = Field(
        default=None, description="beyond Alpaca: the original run this run retries"
    )

    @model_validator(mode="after")
    def _legs_unique(self) -> OptimizationReady:
        legs = [o.leg for o in self.orders]
        if len(set(legs)) != len(legs):
            raise ValueError("order legs must be unique within a run")
        check_run_lots(self.orders)
        if self.weights:
            check_weights(self.weights)
        return self


# What the optimization.created topic carries (see `portfolio.PortfolioPatched`).
OptimizationCreatedTopic: TypeAlias = Annotated[
    OptimizationCreated | OptimizationStatusChanged, Field(discriminator="event_type")
]
