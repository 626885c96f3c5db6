"""Deferred fills: orders whose fill plan is due later (delayed mode) or waits for a price."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime

from rebal_broker_sim.service_layer.notifier import ChangeNotifier
from rebal_broker_sim.service_layer.ports import Clock, UnitOfWorkFactory
from rebal_broker_sim.service_layer.recording import fill_if_possible


class FillScheduler:
    # An order due but not fillable (no price yet) is retried on every price change, and at
    # least this often, so the loop never spins on it.
    MAX_IDLE_SECONDS = 1.0

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        fill_schedule: ChangeNotifier,
        trade_updates: ChangeNotifier,
    ) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._fill_schedule = fill_schedule
        self._trade_updates = trade_updates

    async def fill_due_orders(self) -> tuple[int, datetime | None]:
        """Fill what is due now; return how many orders filled and when the next one is due."""
        now = self._clock.now()
        filled = 0
        async with self._uow_factory() as uow:
            for order in await uow.orders.due_for_fill(now):
                quote = await uow.prices.get(order.symbol)
                if quote is None:
                    continue
                after = await fill_if_possible(uow, order, quote, now)
                filled += after is not order
            next_due = await uow.orders.next_fill_due_after(now)
            await uow.commit()
        if filled:
            self._trade_updates.notify()
        return filled, next_due

    async def run(self) -> None:
        """Background loop: sleep until the next due fill or a wake-up (new order, new price)."""
        while not self._fill_schedule.closed:
            ticket = self._fill_schedule.ticket()
            _, next_due = await self.fill_due_orders()
            timeout = self.MAX_IDLE_SECONDS
            if next_due is not None:
                until_due = (next_due - self._clock.now()).total_seconds()
                timeout = min(timeout, max(0.0, until_due))
            await self._fill_schedule.wait(ticket, timeout)

    async def stop(self, task: asyncio.Task[None]) -> None:
        self._fill_schedule.close()
        with contextlib.suppress(asyncio.CancelledError):
            await task
