"""Alpaca's model portfolio shapes: weights and rebalance conditions, validated as Alpaca does."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rebal_schemas.types import MAX_WEIGHTS, Percent, Symbol

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # 02-29 allowed: rolls back


class Weight(BaseModel):
    """`PortfolioWeight`: `asset` with a symbol, or `cash` without one."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    type: Literal["asset", "cash"]
    symbol: Symbol | None = None
    percent: Percent

    @model_validator(mode="after")
    def _symbol_matches_type(self) -> Weight:
        if self.type == "asset" and self.symbol is None:
            raise ValueError("an asset weight needs a symbol")
        if self.type == "cash" and self.symbol is not None:
            raise ValueError("a cash weight has no symbol")
        return self


class RebalanceCondition(BaseModel):
    """`drift_band` (absolute|relative, percent) or `calendar` (weekly|monthly|quarterly|annually, day)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    type: Literal["drift_band", "calendar"]
    sub_type: Literal["absolute", "relative", "weekly", "monthly", "quarterly", "annually"]
    percent: Percent | None = None
    day: str | None = None

    @field_validator("day", mode="before")
    @classmethod
    def _day_as_text(cls, value: object) -> object:
        # Alpaca documents monthly/quarterly days as integers; keep one representation on the wire.
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @model_validator(mode="after")
    def _consistent(self) -> RebalanceCondition:
        if self.type == "drift_band":
            if self.sub_type not in ("absolute", "relative"):
                raise ValueError("drift_band sub_type must be absolute or relative")
            if self.percent is None:
                raise ValueError("drift_band needs a percent")
            if self.day is not None:
                raise ValueError("drift_band takes no day")
            return self
        if self.sub_type not in ("weekly", "monthly", "quarterly", "annually"):
            raise ValueError("calendar sub_type must be weekly, monthly, quarterly or annually")
        if self.percent is not None:
            raise ValueError("calendar takes no percent")
        _check_day(self.sub_type, self.day)
        return self


def _check_day(sub_type: str, day: str | None) -> None:
    if day is None:
        raise ValueError(f"calendar {sub_type} needs a day")
    if sub_type == "weekly":
        if day not in WEEKDAYS:
            raise ValueError(f"weekly day must be one of {', '.join(WEEKDAYS)}, got {day!r}")
    elif sub_type in ("monthly", "quarterly"):
        if not day.isdigit() or not 1 <= int(day) <= 31:
            raise ValueError(f"{sub_type} day must be an integer 1..31, got {day!r}")
    else:
        month, _, dom = day.partition("-")
        if not (len(month) == 2 and len(dom) == 2 and month.isdigit() and dom.isdigit()):
            raise ValueError(f"annually day must be MM-DD, got {day!r}")
        m, d = int(month), int(dom)
        if not 1 <= m <= 12 or not 1 <= d <= _DAYS_IN_MONTH[m - 1]:
            raise ValueError(f"annually day {day!r} is not a date")


Weights = Annotated[tuple[Weight, ...], Field(max_length=MAX_WEIGHTS)]
"""A weight set: at most `MAX_WEIGHTS` (refused before the weights themselves are validated)."""


def check_weights(weights: tuple[Weight, ...]) -> None:
    """Alpaca's rules for a weight set: non-empty, unique, one cash at most, sum exactly 100."""
    if not weights:
        raise ValueError("weights must not be empty")
    symbols = [w.symbol for w in weights if w.type == "asset"]
    if len(set(symbols)) != len(symbols):
        raise ValueError("a symbol appears twice in weights")
    if sum(1 for w in weights if w.type == "cash") > 1:
        raise ValueError("at most one cash weight")
    total = sum((w.percent for w in weights), Decimal(0))
    if total != Decimal(100):
        raise ValueError(f"weights must sum to exactly 100, got {format(total, 'f')}")


def check_conditions(conditions: tuple[RebalanceCondition, ...]) -> None:
    if sum(1 for c in conditions if c.type == "calendar") > 1:
        raise ValueError("at most one calendar rebalance condition")
