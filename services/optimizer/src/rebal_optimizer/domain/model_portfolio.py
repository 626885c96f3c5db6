"""The model portfolio (Alpaca "portfolio"): target weights plus when to rebalance toward them.

Validation follows Alpaca's rules for weights and conditions: an invalid model cannot be
constructed, so every later step can trust the weights it is given.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal

from rebal_optimizer.domain.enums import (
    CALENDAR_SUB_TYPES,
    DRIFT_SUB_TYPES,
    ConditionSubType,
    ConditionType,
    ModelStatus,
    WeightType,
)
from rebal_optimizer.domain.errors import InvalidModel

HUNDRED = Decimal(100)
ZERO = Decimal(0)
_CENT = Decimal("0.01")
_WEEKDAYS = frozenset({"Monday", "Tuesday", "Wednesday", "Thursday", "Friday"})
_MONTH_DAY = re.compile(r"^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")
_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # 02-29 allowed: rolls back


def _is_two_decimal_positive(value: object) -> bool:
    return (
        isinstance(value, Decimal)
        and value.is_finite()
        and value > 0
        and value == value.quantize(_CENT)
    )


def _coerce(
    obj: object,
    name: str,
    enum: type[WeightType] | type[ConditionType] | type[ConditionSubType] | type[ModelStatus],
) -> None:
    """Turn a wire string into its enum member, or reject it as an invalid model."""
    raw = getattr(obj, name)
    try:
        object.__setattr__(obj, name, enum(raw))
    except ValueError:
        raise InvalidModel(f"unknown {name} {raw!r}") from None


@dataclass(frozen=True, slots=True)
class Weight:
    type: WeightType
    symbol: str | None
    percent: Decimal

    def __post_init__(self) -> None:
        _coerce(self, "type", WeightType)
        if not _is_two_decimal_positive(self.percent):
            raise InvalidModel(f"percent {self.percent!r} must be > 0 with at most 2 decimals")
        if self.type is WeightType.ASSET and not self.symbol:
            raise InvalidModel("an asset weight needs a symbol")
        if self.type is WeightType.CASH and self.symbol is not None:
            raise InvalidModel("a cash weight has no symbol")


@dataclass(frozen=True, slots=True)
class RebalanceCondition:
    type: ConditionType
    sub_type: ConditionSubType
    percent: Decimal | None = None
    day: str | None = None

    def __post_init__(self) -> None:
        _coerce(self, "type", ConditionType)
        _coerce(self, "sub_type", ConditionSubType)
        if self.type is ConditionType.DRIFT_BAND:
            self._validate_drift_band()
        else:
            self._validate_calendar()

    def _validate_drift_band(self) -> None:
        if self.sub_type not in DRIFT_SUB_TYPES:
            raise InvalidModel(f"drift_band sub_type must be absolute|relative: {self.sub_type}")
        if not _is_two_decimal_positive(self.percent):
            raise InvalidModel("drift_band percent must be > 0 with at most 2 decimals")
        if self.day is not None:
            raise InvalidModel("drift_band has no day")

    def _validate_calendar(self) -> None:
        if self.sub_type not in CALENDAR_SUB_TYPES:
            raise InvalidModel(f"calendar sub_type must be weekly..annually, not {self.sub_type}")
        if self.percent is not None:
            raise InvalidModel("calendar has no percent")
        if not _valid_calendar_day(self.sub_type, self.day):
            raise InvalidModel(f"invalid day {self.day!r} for a {self.sub_type} calendar")


def _valid_calendar_day(sub_type: ConditionSubType, day: str | None) -> bool:
    if day is None:
        return False
    if sub_type is ConditionSubType.WEEKLY:
        return day in _WEEKDAYS
    if sub_type is ConditionSubType.ANNUALLY:
        match = _MONTH_DAY.match(day)
        return bool(match) and int(day[3:]) <= _DAYS_IN_MONTH[int(day[:2]) - 1]
    return day.isdigit() and 1 <= int(day) <= 31


def validate_weights(weights: Iterable[Weight]) -> None:
    """Alpaca rules across weights: non-empty, unique symbols, one cash weight, sum exactly 100."""
    seen: set[str | None] = set()
    total = ZERO
    count = 0
    for weight in weights:
        if weight.symbol in seen:
            what = "cash weight" if weight.symbol is None else f"symbol {weight.symbol}"
            raise InvalidModel(f"duplicate {what}")
        seen.add(weight.symbol)
        total += weight.percent
        count += 1
    if count == 0:
        raise InvalidModel("weights must not be empty")
    if total != HUNDRED:
        raise InvalidModel(f"weights sum to {total}, not exactly 100")


def validate_conditions(conditions: Iterable[RebalanceCondition]) -> None:
    calendars = sum(1 for c in conditions if c.type is ConditionType.CALENDAR)
    if calendars > 1:
        raise InvalidModel("at most one calendar condition")


@dataclass(frozen=True, slots=True)
class TargetWeights:
    """Target percent per asset symbol plus the cash percent; what orders steer toward."""

    assets: Mapping[str, Decimal]
    cash: Decimal = ZERO

    @classmethod
    def from_weights(cls, weights: Iterable[Weight]) -> TargetWeights:
        assets: dict[str, Decimal] = {}
        cash = ZERO
        for weight in weights:
            if weight.symbol is None:
                cash += weight.percent
            else:
                assets[weight.symbol] = weight.percent
        return cls(assets=assets, cash=cash)

    def with_cash_buffer(self, buffer_percent: Decimal) -> TargetWeights:
        """Carve the buffer proportionally out of every weight (Alpaca's "cash buffer overlay"),
        so the targets still sum to 100."""
        if buffer_percent <= 0:
            return self
        scale = (HUNDRED - buffer_percent) / HUNDRED
        return TargetWeights(
            assets={symbol: pct * scale for symbol, pct in self.assets.items()},
            cash=self.cash * scale + buffer_percent,
        )


@dataclass(frozen=True, slots=True)
class ModelPortfolio:
    model_id: str
    name: str
    weights: tuple[Weight, ...]
    description: str = ""
    status: ModelStatus = ModelStatus.ACTIVE
    cooldown_days: int = 0
    rebalance_conditions: tuple[RebalanceCondition, ...] = field(default=())
    # symbol -> the symbol subscribers trade instead while it is ineligible (governance.py)
    fallbacks: Mapping[str, str] = field(default_factory=dict)
    ineligible: tuple[str, ...] = ()  # the symbols that made it `needs_adjustment`
    revision: str = ""  # the model.updated event it was built from (the decision records cite it)

    def __post_init__(self) -> None:
        if not self.model_id:
            raise InvalidModel("model_id must not be empty")
        _coerce(self, "status", ModelStatus)
        if (
            isinstance(self.cooldown_days, bool)
            or not isinstance(self.cooldown_days, int)
            or (self.cooldown_days < 0)
        ):
            raise InvalidModel("cooldown_days must be a non-negative integer")
        object.__setattr__(self, "weights", tuple(self.weights))
        object.__setattr__(self, "rebalance_conditions", tuple(self.rebalance_conditions))
        validate_weights(self.weights)
        validate_conditions(self.rebalance_conditions)
        held = {w.symbol for w in self.weights if w.symbol is not None}
        for symbol, fallback in self.fallbacks.items():
            if symbol not in held or fallback in held or fallback == symbol:
                raise InvalidModel(
                    f"fallback {symbol} -> {fallback}: the model must hold {symbol} and not "
                    f"{fallback}"
                )
        object.__setattr__(self, "fallbacks", dict(sorted(self.fallbacks.items())))
        object.__setattr__(self, "ineligible", tuple(sorted(set(self.ineligible))))

    @property
    def targets(self) -> TargetWeights:
        return TargetWeights.from_weights(self.weights)

    @property
    def calendar_condition(self) -> RebalanceCondition | None:
        return next(
            (c for c in self.rebalance_conditions if c.type is ConditionType.CALENDAR), None
        )

    def with_status(self, status: ModelStatus, ineligible: Iterable[str] = ()) -> ModelPortfolio:
        """`ineligible`: the symbols that make it `needs_adjustment` (kept only in that status)."""
        status = ModelStatus(status)
        kept = tuple(ineligible) if status is ModelStatus.NEEDS_ADJUSTMENT else ()
        return replace(self, status=status, ineligible=kept)

    def rebalance_relevant_change(self, previous: ModelPortfolio) -> bool:
        """Alpaca re-evaluates subscribers (even in cooldown) when weights or conditions change;
        rebal also when the fallbacks do (they change what ineligible symbols are traded as)."""
        return (
            self.weights != previous.weights
            or self.rebalance_conditions != previous.rebalance_conditions
            or self.fallbacks != previous.fallbacks
        )
