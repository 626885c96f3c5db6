"""What the operator dashboard shows, from the read model (pure): a portfolio's state, its
positions against target from the decision record, the time an advisory proposal has left.

A portfolio's state is one of `STATES`, the first that holds, in this order:

- `needs_adjustment`: the model it follows has an ineligible symbol;
- `blocked`: a READY optimization's run blocks it until the run settles;
- `awaiting_owner`: its newest optimization waits for the owner's choice (advisory);
- `drifting`: its newest optimization saw a position beyond a drift band and made no run;
- `in_band`: its newest optimization saw every position within its bands, or made a run;
- `not_evaluated`: no optimization yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from rebal_api.domain.optimizations import EvaluationView, OptimizationView
from rebal_api.domain.portfolio_book import PortfolioView
from rebal_api.domain.views import ModelView

STATES = (
    "needs_adjustment",
    "blocked",
    "awaiting_owner",
    "drifting",
    "in_band",
    "not_evaluated",
)
STATE_LABELS = {
    "needs_adjustment": "needs adjustment",
    "blocked": "blocked by a run",
    "awaiting_owner": "awaiting owner",
    "drifting": "drifting beyond band",
    "in_band": "in band",
    "not_evaluated": "not evaluated yet",
}
RUN_STATUSES = (
    "QUEUED",
    "IN_PROGRESS",
    "COMPLETED_SUCCESS",
    "COMPLETED_ADJUSTED",
    "CANCELED",
    "CANCELED_MID_RUN",
    "ERROR",
    "TIMEOUT",
)
CANCELABLE = frozenset({"QUEUED", "IN_PROGRESS"})
POSITION = "position."


@dataclass(frozen=True)
class Position:
    """One line `position.<symbol>` of a decision record: held quantity, current and target
    weight (percent of value), and whether its drift reached a band."""

    symbol: str
    quantity: Decimal | None
    current: Decimal | None
    target: Decimal | None
    beyond_band: bool


def _number(text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        return Decimal(text)
    except (InvalidOperation, ValueError):
        return None


def _detail(detail: str, name: str) -> str | None:
    for part in detail.split():
        key, _, value = part.partition("=")
        if key == name:
            return value
    return None


def positions(decision: tuple[EvaluationView, ...]) -> list[Position]:
    """The record's positions (assets first, then cash); no weights where it had no prices."""
    found = [
        Position(
            symbol=line.name[len(POSITION) :],
            quantity=_number(line.value),
            current=_number(_detail(line.detail, "weight")),
            target=_number(line.threshold),
            beyond_band=line.met,
        )
        for line in decision
        if line.name.startswith(POSITION)
    ]
    return sorted(found, key=lambda p: (p.symbol == "cash", p.symbol))


def drifting(optimization: OptimizationView) -> bool:
    """It saw a position beyond a band and made no run for it (READY: it traded)."""
    if optimization.status == "READY":
        return False
    return any(line.met for line in optimization.decision if line.name.startswith(POSITION))


def portfolio_state(
    portfolio: PortfolioView, latest: OptimizationView | None, model: ModelView | None
) -> str:
    if model is not None and model.status == "needs_adjustment":
        return "needs_adjustment"
    if portfolio.block is not None:
        return "blocked"
    if latest is None:
        return "not_evaluated"
    if latest.awaiting_owner:
        return "awaiting_owner"
    return "drifting" if drifting(latest) else "in_band"


def time_left(expires_at: datetime | None, now: datetime) -> str:
    """`2h 05m`, `4m 10s`, `expired`; `no expiry` without one."""
    if expires_at is None:
        return "no expiry"
    seconds = int((expires_at - now).total_seconds())
    if seconds <= 0:
        return "expired"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s"


def drift_bands(model: ModelView | None) -> list[tuple[str, Decimal]]:
    """The model's drift bands as (sub_type, percent): `absolute` in points, `relative` in
    percent of the target."""
    if model is None:
        return []
    return [
        (c.sub_type, c.percent)
        for c in model.conditions
        if c.type == "drift_band" and c.percent is not None
    ]
