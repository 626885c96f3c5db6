"""What a recommended optimization started from, kept while it waits for its owner or blocks the
portfolio: a run the order-router stops at its start because its prices moved (`replan`, no order
sent, docs/design.md §3 "Execution window") is planned again at its unblock under the same trigger,
as if the replaced run never was (runs.py).

The state that optimization used up is kept with it: the daily limit's day it counted, the first
funding, a target change or a waived cooldown it honoured, the deferred triggers it acted on. The
re-plan gives them back, so the replaced run neither counts toward the daily limit nor starts a
cooldown, and a first funding is still a first funding.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from rebal_optimizer.domain.deferral import Deferred
from rebal_optimizer.domain.enums import Initiator, RunType, TriggerReason
from rebal_optimizer.domain.triggers import Trigger


@dataclass(frozen=True, slots=True)
class Origin:
    optimization_id: str
    trigger: Trigger  # the trigger it was evaluated under (without `waited_for`)
    automatic_day: date | None  # the portfolio's `last_automatic_optimization_day` before it
    funded: bool
    targets_changed: bool
    cooldown_waived: bool
    deferred: Deferred | None


def replan_trigger(
    origin: Origin | None, optimization_id: str, run_type: RunType | None
) -> Trigger:
    """The trigger of the re-plan: the origin's; for a block stored before origins were kept (or
    an external submission), a system manual run of the same type."""
    if origin is not None and origin.optimization_id == optimization_id:
        return origin.trigger
    return Trigger(TriggerReason.MANUAL, Initiator.SYSTEM, run_type=run_type)
