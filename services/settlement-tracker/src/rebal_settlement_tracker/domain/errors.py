"""Domain errors of the settlement-tracker.

Two families matter to callers:
- ``DuplicateEvent`` (and its subclasses): the fact is already known, or is older than what is
  known. Kafka redelivers and brokers replay, so this is expected: treat it as a no-op.
- ``IllegalTransition`` (and its subclasses): the fact contradicts what is known. It can never
  be applied, so the caller dead-letters it rather than retrying.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every settlement-tracker domain error."""


class InvalidEvent(DomainError, ValueError):
    """An event whose own fields are inconsistent (negative quantity, naive datetime, ...)."""


class IllegalTransition(DomainError):
    """The event is not allowed in the current state."""


class RunAlreadyCompleted(IllegalTransition):
    """run.completed was produced already; a new fact would change what it reported."""


class UnknownLeg(IllegalTransition):
    """The event names a leg that the run's plan does not contain."""


class DuplicateEvent(DomainError):
    """The event adds nothing to what is known: a redelivery, a replay or a stale fact."""


class DuplicateFill(DuplicateEvent):
    """A fill whose cumulative quantity is not greater than the known one."""


class DuplicateClose(DuplicateEvent):
    """A close that is already known, older than the known one, or moot (order fully filled)."""


class DuplicatePlan(DuplicateEvent):
    """The same plan (optimization.ready) delivered again."""


class DuplicateCancel(DuplicateEvent):
    """The run was already canceled."""
