"""The reason of a NOT_RECOMMENDED decision record: the rule that held the evaluation (its code,
domain/reasons.py) with the values the record's lines for it show."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from rebal_optimizer.domain import ConditionEvaluation
from rebal_schemas import Reason

# The decision-record lines that show each rule's value (the detail of its reason).
_RULE_LINES = {
    "PORTFOLIO_INACTIVE": ("inactive",),
    "BLOCKED": ("blocked",),
    "AWAITING_CLIENT_HOLDINGS": ("awaiting_client_holdings",),
    "EXTERNAL_OPTIMIZER": ("external_optimizer",),
    "OWN_WEIGHTS_WHILE_SUBSCRIBED": ("own_weights_while_subscribed",),
    "MODEL_UNKNOWN": ("no_target_weights",),
    "NO_TARGET_WEIGHTS": ("no_target_weights",),
    "MODEL_INACTIVE": ("model_not_active",),
    "MODEL_NEEDS_ADJUSTMENT": ("model_not_active", "model_needs_adjustment"),
    "NO_WITHDRAWAL_PENDING": ("withdrawal_requested",),
    "DAILY_LIMIT": ("daily_limit",),
    "COOLDOWN": ("in_cooldown",),
    "IN_BAND": ("drift_band.absolute", "drift_band.relative"),
    "NO_CONDITION_MET": ("invest_cash",),
    "PRICE_MISSING": ("invest_cash",),
    "PRICE_STALE": ("invest_cash",),
    "PRICE_INVALID": ("invest_cash",),
}
# Rules decided by checks that were not met (no band reached, no cash to invest, no price).
_UNMET = frozenset({"IN_BAND", "NO_CONDITION_MET", "PRICE_MISSING", "PRICE_STALE", "PRICE_INVALID"})


def rule_reason(rule: str | None, record: Sequence[ConditionEvaluation]) -> Reason:
    """The reason of a NOT_RECOMMENDED decision record: the rule that held the evaluation, with
    the values its lines of the record show."""
    code = rule or "NO_CONDITION_MET"
    names = _RULE_LINES.get(code, ())

    def text(value: str | Decimal | None) -> str:
        return "" if value is None else format(value, "f") if isinstance(value, Decimal) else value

    parts = []
    for line in record:
        if line.name in names and (line.met or code in _UNMET):
            shown = " ".join(p for p in (text(line.value), line.detail) if p)
            limit = f" (threshold {text(line.threshold)})" if line.threshold is not None else ""
            parts.append(f"{line.name}: {shown or line.met}{limit}")
    return Reason(code=code, detail="; ".join(parts)[:1024])
