"""Cancels read before their run: run.cancel_requested and optimization.ready are on different
topics with no order between them, so after a backlog of readies (the nightly batch) or a
restart the router can read a cancel of a run it has not stored yet. Dropping it would let the
run execute in full with nobody answering the request, so it is kept (run id -> the request)
until the run's optimization.ready, which then stores the run already stopped as `canceled`.

Kept for a bounded time only: a cancel of a run the router never stores (a CLIENT run, another
service's id) would otherwise stay forever. An entry older than `ttl` (the setting
`pending_cancel_seconds`, a day by default: far longer than any backlog of readies) counts as
absent when read and is dropped at the next write, and at most `MAX_PENDING_CANCELS` are kept
(the oldest go first), so what is stored stays small whatever arrives.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType

from rebal_order_router.domain.values import require_aware

MAX_PENDING_CANCELS = 10_000
"""A bound on entries besides the age: a flood of cancels of unknown runs cannot grow them."""


@dataclass(frozen=True)
class PendingCancel:
    run_id: str
    portfolio_id: str
    request_event_id: str  # the cause of the run.execution_stopped that answers it
    reason: str
    recorded_at: datetime  # when the router read it (its own clock: what the age counts from)

    def __post_init__(self) -> None:
        require_aware(self.recorded_at, "recorded_at")

    def expired(self, now: datetime, ttl: timedelta) -> bool:
        return now - self.recorded_at >= ttl


def _frozen(entries: Mapping[str, PendingCancel]) -> Mapping[str, PendingCancel]:
    return MappingProxyType(dict(entries))


@dataclass(frozen=True)
class PendingCancels:
    """Every kept cancel, by run id."""

    entries: Mapping[str, PendingCancel] = field(default_factory=dict)

    def find(self, run_id: str, now: datetime, ttl: timedelta) -> PendingCancel | None:
        found = self.entries.get(run_id)
        return None if found is None or found.expired(now, ttl) else found

    def kept(self, cancel: PendingCancel, now: datetime, ttl: timedelta) -> PendingCancels:
        """With `cancel` added, unless one is kept for its run already (a redelivery, a second
        request: the first one is what the run's stop will name)."""
        live = self._live(now, ttl)
        if cancel.run_id not in live:
            live[cancel.run_id] = cancel
        if len(live) > MAX_PENDING_CANCELS:
            newest = sorted(live.values(), key=lambda c: (c.recorded_at, c.run_id))
            live = {c.run_id: c for c in newest[-MAX_PENDING_CANCELS:]}
        return PendingCancels(_frozen(live))

    def without(self, run_id: str, now: datetime, ttl: timedelta) -> PendingCancels:
        live = self._live(now, ttl)
        live.pop(run_id, None)
        return PendingCancels(_frozen(live))

    def _live(self, now: datetime, ttl: timedelta) -> dict[str, PendingCancel]:
        return {k: c for k, c in self.entries.items() if not c.expired(now, ttl)}
