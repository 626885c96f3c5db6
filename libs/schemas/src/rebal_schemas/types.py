"""Wire types shared by every event: decimals as strings, symbols, ids, and the seeds' enums.

Money and quantities are `Decimal` and travel as JSON *strings*. A JSON number is refused for them:
a float has already lost precision by the time we see it, so accepting it would hide a bug in the
producer instead of reporting it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, PlainSerializer, WithJsonSchema
from ulid import ULID

DECIMAL_PATTERN = r"^-?\d+(\.\d+)?$"
SYMBOL_PATTERN = r"^[A-Z0-9][A-Z0-9.\-/]{0,19}$"
_SYMBOL_RE = re.compile(SYMBOL_PATTERN)


def new_id() -> str:
    """A sortable unique id (ULID), the form Alpaca uses for its event ids."""
    return str(ULID())


def utc_now() -> datetime:
    return datetime.now(UTC)


def _decimal_from_wire(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("expected a decimal string, got a boolean")
    if isinstance(value, float):
        raise ValueError('decimal values must be JSON strings (e.g. "12.50"), not numbers')
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, str):
        try:
            parsed = Decimal(value)
        except InvalidOperation:
            raise ValueError(f"not a decimal: {value!r}") from None
        if not parsed.is_finite():
            raise ValueError(f"not a finite decimal: {value!r}")
        return parsed
    return value


def _decimal_to_wire(value: Decimal) -> str:
    return format(value, "f")


def _positive(value: Decimal) -> Decimal:
    if value <= 0:
        raise ValueError("must be greater than 0")
    return value


def _non_negative(value: Decimal) -> Decimal:
    if value < 0:
        raise ValueError("must not be negative")
    return value


def _reasonable(value: Decimal) -> Decimal:
    # 1e15 USD is more than all the money in the world; anything larger is a unit or encoding bug.
    if abs(value) >= Decimal("1e15"):
        raise ValueError("absurdly large amount (>= 1e15)")
    return value


def _two_decimals(value: Decimal) -> Decimal:
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2 and value != value.quantize(Decimal("0.01")):
        raise ValueError("at most two decimal places")
    return value


WireDecimal = Annotated[
    Decimal,
    BeforeValidator(_decimal_from_wire),
    AfterValidator(_reasonable),
    PlainSerializer(_decimal_to_wire, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": DECIMAL_PATTERN}),
]
"""Any decimal (signed), e.g. a cash or holdings delta."""

Money = Annotated[WireDecimal, AfterValidator(_non_negative)]
PositiveMoney = Annotated[WireDecimal, AfterValidator(_positive)]
Quantity = Annotated[WireDecimal, AfterValidator(_non_negative)]
PositiveQuantity = Annotated[WireDecimal, AfterValidator(_positive)]
Percent = Annotated[WireDecimal, AfterValidator(_positive), AfterValidator(_two_decimals)]
"""Alpaca's weight/band percent: positive, at most two decimals."""


def _symbol(value: str) -> str:
    if not _SYMBOL_RE.match(value):
        raise ValueError(f"invalid symbol {value!r}: upper-case letters, digits and . - / only")
    return value


Symbol = Annotated[
    str, AfterValidator(_symbol), WithJsonSchema({"type": "string", "pattern": SYMBOL_PATTERN})
]
EntityId = Annotated[str, AfterValidator(lambda v: _bounded_id(v))]


def _bounded_id(value: str) -> str:
    if not value or len(value) > 128 or any(c.isspace() for c in value):
        raise ValueError("ids are 1..128 characters without white space")
    return value


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


class CloseReason(StrEnum):
    """How an order ended without a (full) fill; Alpaca order statuses plus InvestSuite's."""

    rejected = "rejected"
    expired = "expired"
    canceled = "canceled"
    not_executed = "not_executed"
