"""Why an evaluation happens, and the decision record it leaves behind."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from rebal_optimizer.domain.enums import Initiator, RunType, TriggerReason
from rebal_optimizer.domain.model_portfolio import Weight, validate_weights

AUTOMATIC_REASONS = frozenset(
    {
        TriggerReason.CALENDAR,
        TriggerReason.NIGHTLY,
        TriggerReason.DRIFT_SWEEP,
        TriggerReason.MODEL_CHANGED,
        TriggerReason.HOLDINGS,
        TriggerReason.DEPOSIT,
        TriggerReason.SETTINGS,
    }
)


@dataclass(frozen=True, slots=True)
class Trigger:
    """What asked for an evaluation.

    `run_type`, `weights` and `amount` are for manual runs (Alpaca POST /runs: type, optional
    one-off weights and amount). `model_id` names the model of a calendar or model_changed
    trigger, so a calendar date of one model does not rebalance another model's subscribers.
    """

    reason: TriggerReason
    initiated_from: Initiator = Initiator.SYSTEM
    run_type: RunType | None = None
    weights: tuple[Weight, ...] = ()
    amount: Decimal | None = None
    model_id: str | None = None
    waited_for: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "reason", TriggerReason(self.reason))
        object.__setattr__(self, "initiated_from", Initiator(self.initiated_from))
        if self.run_type is not None:
            object.__setattr__(self, "run_type", RunType(self.run_type))
        object.__setattr__(self, "weights", tuple(self.weights))
        if self.weights:
            validate_weights(self.weights)

    @property
    def is_automatic(self) -> bool:
        """Counts against "at most one automatic optimization per trading day"."""
        return self.reason in AUTOMATIC_REASONS


@dataclass(frozen=True, slots=True)
class ConditionEvaluation:
    """One line of the decision record: what was checked, against what, and the outcome.

    `met` says whether the named condition holds (e.g. `in_cooldown` met=True stops a full
    rebalance; `drift_band.absolute` met=True triggers one).
    """

    name: str
    met: bool
    value: str | Decimal | None = None
    threshold: str | Decimal | None = None
    detail: str = ""
