"""What every handler of the order-router works with, and the one step they all share:
applying broker reports to a run and publishing the resulting facts in the same commit."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo

from rebal_order_router.adapters.exactly_once import DEFAULT_RETRY_POLICY
from rebal_order_router.adapters.run_documents import StoredRun, needs_dispatch
from rebal_order_router.adapters.run_store import RunStep, RunStore
from rebal_order_router.domain import (
    NEW_YORK,
    ApplyOutcome,
    BrokerPort,
    OrderEvent,
    OrderFact,
    RetryPolicy,
    UnknownOrder,
)
from rebal_order_router.service_layer.publishing import events_for
from rebal_runtime.log import get_logger
from rebal_schemas import Event

log = get_logger(__name__)

Report = tuple[str, OrderEvent]
"""(client_order_id, what the broker said about it)."""


def utc_now() -> datetime:
    return datetime.now(UTC)


class RunLocks:
    """One lock per run inside this process: sending, cancelling and reconciling a run never
    overlap, so a lookup that proves an intent unsent cannot race an in-flight submit."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    def is_busy(self, run_id: str) -> bool:
        lock = self._locks.get(run_id)
        return lock is not None and lock.locked()

    @contextlib.asynccontextmanager
    async def hold(self, run_id: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(run_id, asyncio.Lock())
        self._users[run_id] = self._users.get(run_id, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[run_id] -= 1
            if self._users[run_id] == 0:  # forget idle runs: the map stays small
                del self._users[run_id]
                del self._locks[run_id]


def _no_wake() -> None:
    return None


@dataclass
class RouterContext:
    runs: RunStore
    broker: BrokerPort
    producer: str
    clock: Callable[[], datetime] = utc_now
    market_tz: tzinfo = NEW_YORK
    retry_policy: RetryPolicy = DEFAULT_RETRY_POLICY
    locks: RunLocks = field(default_factory=RunLocks)
    wake_dispatcher: Callable[[], None] = _no_wake


def reports_step(ctx: RouterContext, reports: Sequence[Report]) -> RunStep:
    """A pure RunStep applying reports in order; duplicates and stale reports are no-ops."""

    def step(stored: StoredRun) -> tuple[StoredRun, Sequence[Event]] | None:
        run = stored.run
        facts: list[OrderFact] = []
        for client_order_id, event in reports:
            try:
                update = run.apply(client_order_id, event, ctx.market_tz)
            except UnknownOrder:
                log.warning("report for an order not in its run", client_order_id=client_order_id)
                continue
            if update.outcome is ApplyOutcome.ILLEGAL:
                log.warning(
                    "broker report contradicts the known order state; ignored",
                    client_order_id=client_order_id,
                    kind=event.kind.value,
                    note=update.note,
                )
            run = update.run
            facts.extend(update.facts)
        if run == stored.run:
            return None
        updated = StoredRun(run, stored.meta)
        return updated, events_for(facts, updated, ctx.producer, ctx.clock())

    return step


async def apply_reports(
    ctx: RouterContext, run_id: str, reports: Sequence[Report]
) -> StoredRun | None:
    """Commit the reports' effect with its order.filled / order.closed events (one write), and
    wake the dispatcher when that made orders sendable (e.g. the last sell completed)."""
    if not reports:
        return await ctx.runs.get(run_id)
    stored = await ctx.runs.update(run_id, reports_step(ctx, reports))
    if stored is not None and needs_dispatch(stored):
        ctx.wake_dispatcher()
    return stored
