"""Closed vocabularies of the optimizer domain.

Wire values follow the sources: Alpaca's lowercase names for models, runs and sides,
InvestSuite's uppercase names for mandates and owner choices. StrEnum members compare equal to their wire strings, so the service layer
can pass either.
"""

from __future__ import annotations

from enum import StrEnum


class WeightType(StrEnum):
    ASSET = "asset"
    CASH = "cash"


class ConditionType(StrEnum):
    DRIFT_BAND = "drift_band"
    CALENDAR = "calendar"


class ConditionSubType(StrEnum):
    ABSOLUTE = "absolute"
    RELATIVE = "relative"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    ANNUALLY = "annually"


DRIFT_SUB_TYPES = frozenset({ConditionSubType.ABSOLUTE, ConditionSubType.RELATIVE})
CALENDAR_SUB_TYPES = frozenset(
    {
        ConditionSubType.WEEKLY,
        ConditionSubType.MONTHLY,
        ConditionSubType.QUARTERLY,
        ConditionSubType.ANNUALLY,
    }
)


class ModelStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    NEEDS_ADJUSTMENT = "needs_adjustment"


class Mandate(StrEnum):
    ADVISORY = "ADVISORY"
    DISCRETIONARY = "DISCRETIONARY"


class BrokerIntegration(StrEnum):
    PLATFORM = "PLATFORM"
    CLIENT = "CLIENT"


class OptimizerMode(StrEnum):
    PLATFORM = "PLATFORM"
    EXTERNAL = "EXTERNAL"


class RunType(StrEnum):
    FULL_REBALANCE = "full_rebalance"
    INVEST_CASH = "invest_cash"
    WITHDRAWAL = "withdrawal"


class TriggerReason(StrEnum):
    CALENDAR = "calendar"
    NIGHTLY = "nightly"
    DRIFT_SWEEP = "drift_sweep"
    MANUAL = "manual"
    MODEL_CHANGED = "model_changed"
    HOLDINGS = "holdings"
    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"
    SETTINGS = "settings"
    EXTERNAL = "external"


class Initiator(StrEnum):
    SYSTEM = "system"
    API = "api"


class RebalanceTo(StrEnum):
    """How far a rebalance trades: back to target (Alpaca), or to just inside the band."""

    TARGET = "target"
    BAND_EDGE = "band_edge"


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class OwnerChoice(StrEnum):
    ACCEPT = "ACCEPT"
    REJECT = "REJECT"
    REOPTIMIZE = "REOPTIMIZE"
