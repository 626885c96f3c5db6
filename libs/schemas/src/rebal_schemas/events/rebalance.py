"""`rebalance.requested`: evaluate one portfolio, one model's subscribers, or all portfolios."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, WithJsonSchema, model_validator

from rebal_schemas.enums import RunInitiator, RunType, TriggerReason
from rebal_schemas.envelope import Event
from rebal_schemas.model_portfolio import Weights, check_weights
from rebal_schemas.types import EntityId, PositiveMoney, id_rule, id_schema

SlotId = Annotated[str, AfterValidator(id_rule(200)), WithJsonSchema(id_schema(200))]
"""The scheduler's slot id: like an id, up to 200 characters."""

TOPIC = "rebalance.requested"


class RebalanceRequested(Event):
    """Key: `portfolio_id` for scope `portfolio`, else the `model_id`, else `*`.

    `slot_id` is the scheduler's deterministic slot; consumers drop a second request for a slot.
    A manual run may carry its own `weights` (refused while the portfolio follows a model).
    """

    TOPIC = TOPIC
    event_type: Literal["rebalance.requested"] = "rebalance.requested"
    scope: Literal["portfolio", "model", "all"]
    portfolio_id: EntityId | None = None
    model_id: EntityId | None = None
    reason: TriggerReason
    run_type: RunType | None = None
    weights: Weights | None = None
    amount: PositiveMoney | None = None
    initiated_from: RunInitiator = RunInitiator.system
    slot_id: SlotId | None = None
    late: bool = False

    @model_validator(mode="after")
    def _scope_target(self) -> RebalanceRequested:
        if self.scope == "portfolio" and self.portfolio_id is None:
            raise ValueError("scope portfolio needs a portfolio_id")
        if self.scope == "model" and self.model_id is None:
            raise ValueError("scope model needs a model_id")
        if self.weights is not None:
            if self.scope != "portfolio":
                raise ValueError("own weights are for a single portfolio's manual run")
            check_weights(self.weights)
        return self
