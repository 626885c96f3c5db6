"""How a run's execution ended before its orders all ran: a cancel, a re-plan, or its deadline.

    kind               who says so                        open legs          final status
    canceled           order-router (no order left), or  CANCELLED at once  CANCELED, or
                       a client's cancel of a CLIENT run                     CANCELED_MID_RUN if
                                                                             anything executed
    replan             order-router (prices moved at      CANCELLED at once  as canceled, and
                       the start)                                            `replan` on the run
    canceled_mid_run   order-router (orders had left)     wait for their     CANCELED_MID_RUN
                                                          order.closed
    timeout            the sweep: outcomes unknown by     EXPIRED at once    TIMEOUT
                       the deadline (`deadline.py`)

The router commits `canceled_mid_run` together with the closes its cancel brings about (order.closed
`run_canceled`), but they reach the tracker on other topics: a run whose legs are all final by
such closes still waits for the stop (`execution.awaits_stop`), or for its deadline.

A leg *open* at the end is one without an outcome of its own: no order.closed, not fully filled.
Its close is made up by the tracker (`RunStop.close_open_leg`), not stored as a fact. A fill
reported later is a *late fill* (`execution.py`) for a leg that had executed nothing, and after a
timeout for any leg (what it adds beyond the run's report): it is recorded and settles, but the
run does not reopen.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Final

from rebal_settlement_tracker.domain.lifecycle import RunStatus
from rebal_settlement_tracker.domain.transaction import ZERO, CloseReason, OrderClosed

DEADLINE_NOTE: Final = "no outcome by the deadline"


class StopKind(StrEnum):
    CANCELED = "canceled"
    CANCELED_MID_RUN = "canceled_mid_run"
    REPLAN = "replan"
    TIMEOUT = "timeout"


@dataclass(frozen=True)
class RunStop:
    """One end of a run's execution. `cause`: the event id its final status change names (a
    cancel request's, so that the client asking finds its answer)."""

    kind: StopKind
    at: datetime
    reason: str = ""
    cause: str | None = None

    @property
    def closes_open_legs(self) -> bool:
        """The run ends now: open legs close at once (else it waits for their closes)."""
        return self.kind is not StopKind.CANCELED_MID_RUN

    @property
    def is_cancel(self) -> bool:
        return self.kind is not StopKind.TIMEOUT

    @property
    def replan(self) -> bool:
        return self.kind is StopKind.REPLAN

    @property
    def orders_left(self) -> bool:
        """Orders had left for the broker when it stopped: the execution started."""
        return self.kind is StopKind.CANCELED_MID_RUN

    def close_open_leg(self) -> OrderClosed | None:
        """The close of a leg still open at the end, or None while the run waits for it."""
        if not self.closes_open_legs:
            return None
        if self.kind is StopKind.TIMEOUT:
            return OrderClosed(CloseReason.EXPIRED, ZERO, self.at, note=DEADLINE_NOTE)
        return OrderClosed(CloseReason.CANCELED, ZERO, self.at)

    def close_for(self, own: OrderClosed | None, filled: Decimal) -> OrderClosed | None:
        """The close a leg ends with: its own, else the stop's. At the deadline also a leg whose
        own close claims more than its fills show (the rest of its outcome never came)."""
        if own is None or (self.kind is StopKind.TIMEOUT and filled < own.cum_qty):
            return self.close_open_leg()
        return own

    def status(self, executed: int) -> tuple[RunStatus, str]:
        """The final status and its reason, `executed` orders having executed (some or all)."""
        if self.kind is StopKind.TIMEOUT:
            return RunStatus.TIMEOUT, self.reason or DEADLINE_NOTE
        if self.kind is StopKind.CANCELED_MID_RUN or executed:
            said = f"canceled after {executed} order(s) executed"
            return RunStatus.CANCELED_MID_RUN, _with(said, self.reason)
        said = "re-planned before any order" if self.replan else "canceled before any order"
        return RunStatus.CANCELED, _with(f"{said} executed", self.reason)


def timeout_reason(open_legs: int, legs: int) -> str:
    return f"{DEADLINE_NOTE} for {open_legs} of {legs} order(s)"


def _with(said: str, reason: str) -> str:
    return f"{said}: {reason}" if reason else said
