"""What an evaluation could not do without, and the trigger it could not act on.

Prices and models arrive on their own topics, with no order against a portfolio's events: a
deposit can be read a moment before the first price of the symbols it will buy, or before the
model its portfolio follows. Such an evaluation is not dropped: the portfolio remembers what it
waits for (one thing at a time, the first that was missing) and the trigger, and the arrival of
that price or model evaluates it again under the same trigger. If something else is still
missing then, it waits for that next.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Literal

from rebal_optimizer.domain.enums import TriggerReason
from rebal_optimizer.domain.reasons import PRICE_MISSING, PRICE_STALE, Reason
from rebal_optimizer.domain.triggers import Trigger

WaitKind = Literal["price", "model"]

# A price that is missing or too old: a newer one resolves it. (A non-positive price or an
# untradable asset is a fact about the asset, not a gap in what rebal has read.)
AWAITABLE_PRICE_CODES = frozenset({PRICE_MISSING, PRICE_STALE})

# A client's own request (manual run, external optimization) is answered at once with the
# reason; the client decides whether to ask again. Everything else is rebal's to resume.
NOT_RESUMED = frozenset({TriggerReason.MANUAL, TriggerReason.EXTERNAL})


@dataclass(frozen=True, slots=True)
class Waiting:
    kind: WaitKind
    key: str  # the symbol, or the model id
    trigger: Trigger  # what could not be acted on

    @property
    def token(self) -> str:
        """`price:SPY` / `model:balanced`: what the portfolio is indexed under while it waits."""
        return waiting_token(self.kind, self.key)

    def resumed_trigger(self) -> Trigger:
        return replace(self.trigger, waited_for=self.token)


def waiting_token(kind: WaitKind, key: str) -> str:
    return f"{kind}:{key}"


def first_missing_price(reasons: Iterable[Reason]) -> str | None:
    symbols = sorted(
        r.symbol for r in reasons if r.code in AWAITABLE_PRICE_CODES and r.symbol is not None
    )
    return symbols[0] if symbols else None


def waiting_for(trigger: Trigger, kind: WaitKind, key: str) -> Waiting | None:
    if trigger.reason in NOT_RESUMED:
        return None
    return Waiting(kind, key, replace(trigger, waited_for=None))
