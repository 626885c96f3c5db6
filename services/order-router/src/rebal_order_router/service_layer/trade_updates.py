"""Follow the broker's trade-update stream and apply the updates to their runs.

The stream delivers updates in batches (what arrived together, `BrokerPort.stream_trade_updates`).
A batch is applied as one store read and one write of every run it touches (each run's commit
with its order.filled / order.closed events), each run's updates in stream order, so each
order's updates keep their order. Under load a stream read holds updates of many runs, and a
transaction per read instead of per fill is most of what applying them costs.

The cursor (the last processed event id) is stored after the updates' effects are committed
(every so many updates, see `follow_once`), so a crash in between replays those updates, which the
domain recognises as duplicates (cumulative quantities, transition table), in one batch as across
batches. On a broken stream the follower reconnects from the cursor with a backoff. Updates for
orders that are not ours, or for runs this router does not know, are skipped. A stop lets the
batch in hand finish (its effects and its cursor), then ends the stream (`rebal_runtime.periodic`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from rebal_order_router.domain import (
    TradeUpdate,
    event_from_trade_update,
    is_rebal_client_order_id,
)
from rebal_order_router.service_layer.context import Report, RouterContext, apply_reports_of_runs
from rebal_runtime.backoff import Backoff
from rebal_runtime.clock import Clock
from rebal_runtime.log import get_logger
from rebal_runtime.periodic import Background

log = get_logger(__name__)

CURSOR = "trade_updates"
MAX_RECONNECT_SECONDS = 30.0


async def handle_trade_updates(ctx: RouterContext, updates: Sequence[TradeUpdate]) -> int:
    """Apply a batch of updates, one store write per run; returns how many of them belonged
    to a run of this router."""
    run_of: dict[str, str | None] = {}  # client_order_id -> run id, looked up once per batch
    per_run: dict[str, list[Report]] = {}  # in stream order within each run
    ours = 0
    for update in updates:
        client_order_id = update.order.client_order_id
        if not is_rebal_client_order_id(client_order_id):
            continue
        if client_order_id not in run_of:
            run_of[client_order_id] = await ctx.runs.run_of(client_order_id)
        run_id = run_of[client_order_id]
        if run_id is None:
            log.info("trade update for an unknown run; skipped", client_order_id=client_order_id)
            continue
        ours += 1
        report = event_from_trade_update(update)
        if report is not None:
            per_run.setdefault(run_id, []).append((client_order_id, report))
    await apply_reports_of_runs(ctx, per_run)
    return ours


async def handle_trade_update(ctx: RouterContext, update: TradeUpdate) -> bool:
    """Apply one update; True when it belonged to a run of this router."""
    return await handle_trade_updates(ctx, [update]) == 1


class TradeUpdateFollower:
    def __init__(
        self,
        ctx: RouterContext,
        reconnect_seconds: float = 1.0,
        *,
        cursor_every: int = 100,
        cursor_seconds: float = 1.0,
        clock: Clock | None = None,
    ) -> None:
        self.ctx = ctx
        self.reconnect_seconds = reconnect_seconds
        self.cursor_every = cursor_every
        self.cursor_seconds = cursor_seconds
        self.processed = 0
        self.connections = 0
        # it sleeps on the clock the handlers read unless given one: a fake clock moves both
        self.clock: Clock = clock if clock is not None else ctx.clock
        self.backoff = Backoff(reconnect_seconds, MAX_RECONNECT_SECONDS)
        self._background = Background("order-router-trade-updates", self._run)

    async def start(self) -> None:
        self._background.start()

    async def stop(self) -> None:
        await self._background.stop()

    async def follow_once(self) -> int:
        """One connection: process updates after the stored cursor until the stream ends;
        returns how many.

        The cursor is saved after a batch once `cursor_every` updates or `cursor_seconds`
        passed since it was last saved, and when the connection ends: a crash replays at most
        that many updates (and one batch), each a no-op.
        """
        cursor = await self.ctx.runs.load_cursor(CURSOR)
        saved = cursor
        saved_at = time.monotonic()
        self.connections += 1
        count = unsaved = 0
        try:
            async for updates in self.ctx.broker.stream_trade_updates(cursor):
                with self._background.busy():
                    await handle_trade_updates(self.ctx, updates)
                    cursor = updates[-1].event_id
                    count += len(updates)
                    unsaved += len(updates)
                    self.processed += len(updates)
                    due = time.monotonic() - saved_at >= self.cursor_seconds
                    if unsaved >= self.cursor_every or due:
                        await self.ctx.runs.save_cursor(CURSOR, cursor)
                        saved, saved_at, unsaved = cursor, time.monotonic(), 0
        finally:
            if cursor is not None and cursor != saved:
                await self.ctx.runs.save_cursor(CURSOR, cursor)
        return count

    async def _run(self) -> None:
        failures = 0  # in a row, without an update processed in between
        while True:
            before = self.processed
            try:
                processed = await self.follow_once()
                log.info("trade-update stream ended; reconnecting", processed=processed)
            except Exception as exc:  # broker or store down: reconnect from the cursor later
                if self.processed > before:  # it was working: a fresh failure, a short wait
                    failures = 0
                # the first wait as set, even above the cap; the doubling ones are capped
                delay = self.backoff.delay(failures) if failures else self.reconnect_seconds
                failures += 1
                log.warning("trade-update stream failed", error=repr(exc), retry_in=delay)
                await self.clock.sleep(delay)
                continue
            failures = 0
            await self.clock.sleep(self.reconnect_seconds)
