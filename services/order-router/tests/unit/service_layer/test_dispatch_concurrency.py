"""Runs are sent concurrently, within the broker's in-flight cap (`LimitedBroker`), each still
sells before buys and every client_order_id submitted once."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from rebal_order_router.adapters.broker_limits import LimitedBroker, broker_bucket
from rebal_order_router.domain import BrokerOrder, OrderSide
from rebal_order_router.service_layer.context import RouterContext
from rebal_order_router.service_layer.dispatch import Dispatcher
from rebal_order_router.service_layer.intake import on_optimization_ready
from rebal_runtime.clock import FakeClock

from .conftest import FakeBroker

RUNS = 6
ORDERS = ((1, "AAPL", "sell", "5"), (2, "VTI", "sell", "3"), (3, "MSFT", "buy", "2"))


class SlowBroker(FakeBroker):
    """Each submit takes a little real time; records what was in flight and when."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock)
        self.in_flight = 0
        self.peak = 0
        self.log: list[tuple[str, str]] = []  # ("start" | "done", client_order_id)

    async def submit_order(
        self,
        account_id: str,
        client_order_id: str,
        symbol: str,
        side: OrderSide,
        *,
        qty: Decimal | None = None,
        notional: Decimal | None = None,
    ) -> BrokerOrder:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        self.log.append(("start", client_order_id))
        try:
            await asyncio.sleep(0.01)
            return await super().submit_order(
                account_id, client_order_id, symbol, side, qty=qty, notional=notional
            )
        finally:
            self.in_flight -= 1
            self.log.append(("done", client_order_id))


async def send_all(ctx: RouterContext, make_ready, clock: FakeClock, cap: int) -> SlowBroker:
    slow = SlowBroker(clock)
    ctx.broker = LimitedBroker(slow, broker_bucket(600_000), clock, max_in_flight=cap)
    for i in range(RUNS):
        await on_optimization_ready(
            ctx, make_ready(run_id=f"opt-{i}", orders=ORDERS, portfolio_id=f"pf-{i}")
        )
    dispatcher = Dispatcher(ctx)  # the broker's cap is the only one
    await dispatcher.dispatch_pending()
    running = list(dispatcher._runs.values())
    assert len(running) == RUNS  # a task per run, all at once
    await asyncio.wait_for(asyncio.gather(*running), 10)
    return slow


def run_of(coid: str) -> str:
    return coid.removeprefix("rebal-").rsplit("-", 1)[0]


async def test_runs_are_sent_concurrently_up_to_the_cap_and_never_beyond(
    ctx, make_ready, clock
) -> None:
    slow = await send_all(ctx, make_ready, clock, cap=4)

    assert slow.peak == 4  # reached: several runs' orders in flight together ...
    assert isinstance(ctx.broker, LimitedBroker) and ctx.broker.peak_in_flight == 4  # ... not past
    first_wave = [coid for what, coid in slow.log[:4] if what == "start"]
    assert len({run_of(coid) for coid in first_wave}) > 1  # orders of different runs at once
    # exactly once: every intent submitted one time
    submits = slow.submits()
    assert len(submits) == len(set(submits)) == RUNS * len(ORDERS)
    assert await ctx.runs.runs_needing_dispatch() == []


async def test_each_run_sends_its_buys_after_its_sells_under_concurrency(
    ctx, make_ready, clock
) -> None:
    slow = await send_all(ctx, make_ready, clock, cap=3)

    for i in range(RUNS):
        stored = await ctx.runs.get(f"opt-{i}")
        assert stored is not None
        sells = {o.client_order_id for o in stored.run.orders if o.side is OrderSide.SELL}
        buys = {o.client_order_id for o in stored.run.orders if o.side is OrderSide.BUY}
        last_sell_done = max(n for n, (w, c) in enumerate(slow.log) if w == "done" and c in sells)
        first_buy = min(n for n, (w, c) in enumerate(slow.log) if w == "start" and c in buys)
        assert last_sell_done < first_buy
