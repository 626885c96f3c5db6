"""`model.updated`: a model portfolio created, changed or deactivated (key `model_id`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from rebal_schemas.enums import ModelStatus
from rebal_schemas.envelope import Event
from rebal_schemas.model_portfolio import (
    RebalanceCondition,
    Weights,
    check_conditions,
    check_weights,
)
from rebal_schemas.types import MAX_CONDITIONS, MAX_WEIGHTS, EntityId, Symbol

TOPIC = "model.updated"


class ModelUpdated(Event):
    """The whole model as it now is (Alpaca's portfolio object); `status: inactive` retires it.

    Version 2 spells the conditions `rebalance_conditions`, as every Alpaca payload does; version 1
    used `rebalancing_conditions` from Alpaca's model table and is upcast.
    """

    TOPIC = TOPIC
    SCHEMA_VERSION = 2

    event_type: Literal["model.updated"] = "model.updated"
    schema_version: int = 2
    model_id: EntityId
    name: str = Field(min_length=1, max_length=128)
    description: str = Field(default="", max_length=1024)
    status: ModelStatus = ModelStatus.active
    weights: Weights
    cooldown_days: int = Field(default=0, ge=0, le=3660)
    rebalance_conditions: tuple[RebalanceCondition, ...] = Field(
        default=(), max_length=MAX_CONDITIONS
    )
    fallbacks: dict[Symbol, Symbol] = Field(
        default_factory=dict,
        max_length=MAX_WEIGHTS,
        description="beyond Alpaca: symbol -> the symbol its subscribers trade instead while it is "
        "not tradable (or not fractionable where they trade fractions); the model then stays "
        "active instead of needing adjustment",
    )

    @model_validator(mode="after")
    def _alpaca_rules(self) -> ModelUpdated:
        check_weights(self.weights)
        check_conditions(self.rebalance_conditions)
        held = {w.symbol for w in self.weights if w.type == "asset"}
        for symbol, fallback in self.fallbacks.items():
            if symbol not in held:
                raise ValueError(f"fallback for {symbol}, which the model does not hold")
            if fallback in held or fallback == symbol:
                raise ValueError(
                    f"the fallback of {symbol} must be a symbol the model does not hold"
                )
        return self


STATUS_TOPIC = "model.status_changed"


class ModelStatusChanged(Event):
    """A model became `needs_adjustment` (a symbol became ineligible), `active` again, or
    `inactive`. `symbols` names the offending symbols; `fallbacks` the replacements its
    subscribers now trade instead, where the model names them."""

    TOPIC = STATUS_TOPIC
    event_type: Literal["model.status_changed"] = "model.status_changed"
    model_id: EntityId
    status: ModelStatus
    previous_status: ModelStatus
    reason: str = Field(default="", max_length=1024)
    symbols: tuple[Symbol, ...] = Field(default=(), max_length=MAX_WEIGHTS)
    fallbacks: dict[Symbol, Symbol] = Field(default_factory=dict, max_length=MAX_WEIGHTS)
