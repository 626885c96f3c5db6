"""What every handler of the order-router works with, and the one step they all share:
applying broker reports to a run and publishing the resulting facts in the same commit."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta, tzinfo
from decimal import Decimal

from rebal_order_router.domain import (
    DEFAULT_PRICE_TOLERANCE,
    NEW_YORK,
    ApplyOutcome,
    BrokerPort,
    ExecutionWindow,
    OrderEvent,
    OrderFact,
    RetryPolicy,
    StoredRun,
    UnknownOrder,
    needs_dispatch,
)
from rebal_order_router.service_layer.exactly_once import DEFAULT_RETRY_POLICY
from rebal_order_router.service_layer.execution_events import mark_started
from rebal_order_router.service_layer.ports import Prices, Runs, RunStep
from rebal_order_router.service_layer.publishing import events_for
from rebal_runtime.clock import Clock, SystemClock
from rebal_runtime.log import get_logger
from rebal_runtime.store import DocumentStore
from rebal_schemas import Event

log = get_logger(__name__)

Report = tuple[str, OrderEvent]
"""(client_order_id, what the broker said about it)."""


DEFAULT_RUN_LEASE_SECONDS = 15.0
"""How long a run's store lease lasts without a renewal (`RouterSettings.run_lease_seconds`)."""


DEFAULT_PENDING_CANCEL_SECONDS = 86_400.0
"""How long a cancel of a run not stored yet is kept for its optimization.ready (a day:
`RouterSettings.pending_cancel_seconds`)."""


def instance_id() -> str:
    """Unique per router process: host, process, and a random part (pids are reused)."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"


def run_lease_name(run_id: str) -> str:
    return f"run:{run_id}"


class RunBusy(Exception):
    """Another instance sharing the store holds the run's lease (or this one lost it while it
    worked): leave the run alone this round. The dispatcher's poll, the next trade update or the
    next reconciliation round tries again; a crashed holder's lease expires."""


class RunLease:
    """This instance's store lease on one run, renewed in the background while it is held.

    Renewed every third of its length, so one late or failed renewal does not lose it. Lost
    for good when another owner has it (a renewal refused) or when its length passed since the
    last renewal that succeeded (store unreachable meanwhile): from then on the holder must not
    start another broker call for the run (`lost`, `check`), since another instance may be
    working on it. A lease once lost is never taken back by this holder: what it read of the
    run may be stale."""

    def __init__(self, store: DocumentStore, name: str, owner: str, seconds: float) -> None:
        self.store = store
        self.name = name
        self.owner = owner
        self.seconds = seconds
        self._valid_until = float("-inf")  # monotonic: the end of the last lease we got
        self._lost = False
        self._renewer: asyncio.Task[None] | None = None

    @property
    def lost(self) -> bool:
        if not self._lost and time.monotonic() >= self._valid_until:
            self._lost = True
        return self._lost

    def check(self) -> None:
        """Raise RunBusy when the lease is lost."""
        if self.lost:
            raise RunBusy(f"{self.name}: lease lost (another instance may hold it)")

    async def acquire(self) -> bool:
        asked_at = time.monotonic()  # the store's lease ends `seconds` after this at the latest
        if not await self.store.acquire_lease(self.name, self.owner, self.seconds):
            return False
        self._valid_until = asked_at + self.seconds
        self._renewer = asyncio.create_task(self._renew(), name=f"renew-{self.name}")
        return True

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(self.seconds / 3)
            if self.lost:
                return
            asked_at = time.monotonic()
            try:
                renewed = await self.store.acquire_lease(self.name, self.owner, self.seconds)
            except Exception as exc:  # store down: still ours until the lease runs out
                log.warning("renewing a run lease failed", lease=self.name, error=repr(exc))
                continue
            if not renewed:
                self._lost = True
                log.warning("run lease taken over by another instance", lease=self.name)
                return
            if self.lost:  # it ran out while the renewal was on its way: stay lost
                return
            self._valid_until = asked_at + self.seconds

    async def release(self) -> None:
        """Stop renewing and end the lease in the store (owner-only: a lease another instance
        took over stays theirs). A failed release is left to expire."""
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
            self._renewer = None
        try:
            await self.store.release_lease(self.name, self.owner)
        except Exception as exc:
            log.warning(
                "releasing a run lease failed; it expires", lease=self.name, error=repr(exc)
            )


class RunLocks:
    """Sending, cancelling and reconciling a run never overlap, in this process or across the
    instances sharing the store, so a lookup that proves an intent unsent cannot race an
    in-flight submit of the same run.

    `hold(run_id)` takes the in-process lock first (tasks of this process wait for each other),
    then the run's store lease as `owner` (`DocumentStore.acquire_lease`, atomic across
    processes). When another instance holds the lease it raises RunBusy at once instead of
    waiting: that instance is doing the work, and whoever retries later reads what it
    recorded. The lease is renewed while held and released at the end; a SIGKILLed holder's
    lease expires after `lease_seconds`, and then the other instance takes the run over."""

    def __init__(
        self,
        store: DocumentStore,
        owner: str,
        lease_seconds: float = DEFAULT_RUN_LEASE_SECONDS,
    ) -> None:
        self.store = store
        self.owner = owner
        self.lease_seconds = lease_seconds
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}
        self._held: dict[str, RunLease] = {}

    def is_busy(self, run_id: str) -> bool:
        """Held by a task of this process (the store lease is not read)."""
        lock = self._locks.get(run_id)
        return lock is not None and lock.locked()

    def check(self, run_id: str) -> None:
        """Inside `hold`: raise RunBusy when the run's lease was lost meanwhile."""
        lease = self._held.get(run_id)
        if lease is not None:
            lease.check()

    @contextlib.asynccontextmanager
    async def hold(self, run_id: str) -> AsyncIterator[RunLease]:
        lock = self._locks.setdefault(run_id, asyncio.Lock())
        self._users[run_id] = self._users.get(run_id, 0) + 1
        try:
            async with lock:
                lease = RunLease(self.store, run_lease_name(run_id), self.owner, self.lease_seconds)
                if not await lease.acquire():
                    raise RunBusy(f"run {run_id} is held by another instance")
                self._held[run_id] = lease
                try:
                    yield lease
                finally:
                    del self._held[run_id]
                    await lease.release()
        finally:
            self._users[run_id] -= 1
            if self._users[run_id] == 0:  # forget idle runs: the map stays small
                del self._users[run_id]
                del self._locks[run_id]


def _no_wake() -> None:
    return None


@dataclass
class RouterContext:
    runs: Runs
    broker: BrokerPort
    producer: str
    clock: Clock = field(default_factory=SystemClock)
    """What time it is for the run's facts; the dispatcher, the trade-update follower and the
    reconciliation sleep on it too (a `FakeClock` in tests)."""
    market_tz: tzinfo = NEW_YORK
    retry_policy: RetryPolicy = DEFAULT_RETRY_POLICY
    wake_dispatcher: Callable[[], None] = _no_wake
    owner: str = field(default_factory=instance_id)
    """This instance's id as the holder of run leases (unique per process)."""
    run_lease_seconds: float = DEFAULT_RUN_LEASE_SECONDS
    window: ExecutionWindow = field(default_factory=ExecutionWindow)
    """When orders may leave (default: always, as with the ALWAYS_OPEN calendar)."""
    prices: Prices | None = None
    """The last prices a queued run is checked against at its start (None: not checked)."""
    price_tolerance: Decimal = DEFAULT_PRICE_TOLERANCE
    pending_cancel_seconds: float = DEFAULT_PENDING_CANCEL_SECONDS
    """How long a cancel read before its run's optimization.ready is kept for it."""
    locks: RunLocks = field(init=False)

    def __post_init__(self) -> None:
        self.locks = RunLocks(self.runs.store, self.owner, self.run_lease_seconds)

    @property
    def pending_cancel_ttl(self) -> timedelta:
        return timedelta(seconds=self.pending_cancel_seconds)


def reports_step(ctx: RouterContext, reports: Sequence[Report]) -> RunStep:
    """A pure RunStep applying reports in order; duplicates and stale reports are no-ops. The
    first report that changes a run starts it (run.execution_started, `mark_started`)."""

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
        now = ctx.clock.now()
        updated, started = mark_started(StoredRun(run, stored.meta), ctx.producer, now)
        return updated, [*started, *events_for(facts, updated, ctx.producer, now)]

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


async def apply_reports_of_runs(
    ctx: RouterContext, per_run: Mapping[str, Sequence[Report]]
) -> None:
    """`apply_reports` for several runs at once: one store read and one write for all of them
    (the trade updates of one stream read), each run's reports in their order."""
    steps = {run_id: reports_step(ctx, reports) for run_id, reports in per_run.items() if reports}
    if not steps:
        return
    updated = await ctx.runs.update_many(steps)
    if any(stored is not None and needs_dispatch(stored) for stored in updated.values()):
        ctx.wake_dispatcher()
