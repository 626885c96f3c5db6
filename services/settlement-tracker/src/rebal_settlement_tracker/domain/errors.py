"""Domain errors of the settlement-tracker.

Two families matter to callers:
- ``DuplicateEvent`` (and its subclasses): the fact is already known, or is older than what is
  known. Kafka redelivers and brokers replay, so this is expected: treat it as a no-op.
- ``IllegalTransition`` (and its subclasses): the fact contradicts what is known. It can never
  be applied, so the caller dead-letters it rather than retrying.
"""

from __future__ import annotations

from enum import StrEnum


class DomainError(Exception):
    """Base of every settlement-tracker domain error."""


class InvalidEvent(DomainError, ValueError):
    """An event whose own fields are inconsistent (negative quantity, naive datetime, ...)."""


class IllegalTransition(DomainError):
    """The event is not allowed in the current state."""


class RunAlreadyCompleted(IllegalTransition):
    """run.completed was produced already; a new fact would change what it reported."""


class RejectCode(StrEnum):
    """Which consumer check a fill or close failed (docs/design.md §4: consumers still check)."""

    NOT_SIGNED = "not_signed_by_platform"  # a PLATFORM fact without the order-router's signature
    UNKNOWN_LEG = "unknown_leg"
    WRONG_ORDER = "symbol_or_side_mismatch"
    ABOVE_QTY = "quantity_above_order"
    ABOVE_NOTIONAL = "notional_above_order"
    PRICE_OUT_OF_BAND = "price_out_of_band"
    TOO_MANY_EARLY = "too_many_facts_before_plan"


class FactRejected(IllegalTransition):
    """A fill or close that fails a consumer check: it can never be applied, and is counted."""

    def __init__(self, code: RejectCode, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


class UnknownLeg(FactRejected):
    """The event names a leg that the run's plan does not contain."""

    def __init__(self, detail: str) -> None:
        super().__init__(RejectCode.UNKNOWN_LEG, detail)


class DuplicateEvent(DomainError):
    """The event adds nothing to what is known: a redelivery, a replay or a stale fact."""


class DuplicateFill(DuplicateEvent):
    """A fill whose cumulative quantity is not greater than the known one."""


class DuplicateClose(DuplicateEvent):
    """A close that is already known, older than the known one, or moot (order fully filled)."""


class DuplicatePlan(DuplicateEvent):
    """The same plan (optimization.ready) delivered again."""


class DuplicateCancel(DuplicateEvent):
    """The run was already canceled, or its cancel already requested."""


class DuplicateStatus(DuplicateEvent):
    """The run is already in that status, or past it (a stale "execution started")."""


class CancelRefused(DomainError):
    """A cancel request the run refuses (answered with request.rejected, not dead-lettered)."""


class CancelOfUnknownRun(CancelRefused):
    """No run of that id (its plan is not known) for that portfolio."""


class CancelOfFinalRun(CancelRefused):
    """The run already reached a final status."""
