"""A run as the service stores it: the domain `RunExecution` with the service's own facts about
it, and the pure questions the background loops ask of it (is there anything to send, on which
UTC day did it finish)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from rebal_order_router.domain.run_execution import RunExecution
from rebal_order_router.domain.values import OrderStatus


@dataclass(frozen=True)
class RunMeta:
    """Service-level facts about a run that the pure domain does not model."""

    ready_event_id: str
    correlation_id: str
    schema_legs: dict[str, int]  # client_order_id -> leg of optimization.ready
    attempted: frozenset[str] = field(default_factory=frozenset)  # client_order_ids

    def with_attempted(self, client_order_ids: list[str]) -> RunMeta:
        return replace(self, attempted=self.attempted | frozenset(client_order_ids))


@dataclass(frozen=True)
class StoredRun:
    run: RunExecution
    meta: RunMeta


def needs_dispatch(stored: StoredRun) -> bool:
    """The dispatcher has something to send (or to resolve by lookup) for this run."""
    return bool(stored.run.sendable())


def has_started(stored: StoredRun) -> bool:
    """An order of the run may have left for the broker: its first send was recorded (runs
    stored before `started_at` existed know it from their attempted intents)."""
    return stored.run.start.started_at is not None or bool(stored.meta.attempted)


def never_sent(stored: StoredRun) -> tuple[str, ...]:
    """Intents the dispatcher never started to send (not `attempted`): the broker provably does
    not have them, so they can be closed without asking it."""
    return tuple(
        o.client_order_id
        for o in stored.run.orders
        if o.status is OrderStatus.PENDING_SUBMIT and o.client_order_id not in stored.meta.attempted
    )


def unanswered(stored: StoredRun) -> tuple[str, ...]:
    """Intents whose send started but got no answer: the broker may have them (looked up)."""
    return tuple(
        o.client_order_id
        for o in stored.run.orders
        if o.status is OrderStatus.PENDING_SUBMIT and o.client_order_id in stored.meta.attempted
    )


def done_day(stored: StoredRun) -> int | None:
    """UTC day (YYYYMMDD) the run's last order became final (or it stopped before any left);
    None while it is open."""
    if not stored.run.is_complete:
        return None
    closed = [o.closed_at for o in stored.run.orders if o.closed_at is not None]
    if stored.run.start.stopped_at is not None:
        closed.append(stored.run.start.stopped_at)
    if not closed:
        return None
    return day_key(max(closed))


def day_key(at: datetime) -> int:
    return int(at.astimezone(UTC).strftime("%Y%m%d"))
