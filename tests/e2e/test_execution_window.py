"""The execution window over the real broker: `python -m rebal_order_router` and the broker
simulator as processes (the embedded stack with only those two), on the XNYS calendar.

The router lives at 02:00 New York on a trading day (`REBAL_CLOCK_START_AT`, dev profile): the
runs that become ready then are QUEUED (run.execution_queued, starts_at the 09:30 opening) and
nothing reaches the broker; one is canceled while queued. The router is then restarted just
before the opening (the queue is in its store): after 09:30 the queued runs start (their first
order leaves: run.execution_started), one whose price moved since the plan is stopped for a
re-plan, and one is canceled during its execution (its open order is cancelled at the broker,
its unsent buy closed as canceled, its partial fill kept: run.execution_stopped
canceled_mid_run).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from rebal_runtime.calendar import NEW_YORK
from rebal_runtime.stack import Stack
from rebal_runtime.testing.kafka import TopicReader
from rebal_schemas import (
    OrderClosed,
    OrderFilled,
    PriceUpdated,
    RunExecutionQueued,
    RunExecutionStarted,
    RunExecutionStopped,
)

from .broker_helpers import (
    broker_orders,
    cancel,
    of,
    publish,
    ready,
    restart_router,
    simulator,
    until,
)
from .conftest import logs, running_stack

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

NIGHT = datetime(2026, 3, 10, 2, 0, tzinfo=NEW_YORK)  # a Tuesday: the nightly batch
JUST_BEFORE_OPEN = datetime(2026, 3, 10, 9, 29, 52, tzinfo=NEW_YORK)
OPENING = datetime(2026, 3, 10, 9, 30, tzinfo=NEW_YORK).astimezone(UTC)
PRICES = {"AAPL": "200", "MSFT": "400", "VTI": "275"}  # VTI +10 % from the plan of `moved`
ROUTER = {
    "REBAL_TRADING_CALENDAR": "XNYS",  # the demo's ALWAYS_OPEN would start everything at once
    "REBAL_CLOCK_START_AT": NIGHT.isoformat(),
    "REBAL_EXECUTION_QUEUE_POLL_SECONDS": "0.2",
    "REBAL_DISPATCH_POLL_SECONDS": "0.2",
    "REBAL_RECONCILE_SECONDS": "1",
    "REBAL_LOG_LEVEL": "INFO",
}


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Stack]:
    with running_stack(
        tmp_path_factory,
        request,
        "window",
        only=("broker-simulator", "order-router"),
        service_overrides={"order-router": ROUTER},
    ) as running:
        yield running


def stored_ids(db: Path, collection: str) -> set[str]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
        rows = conn.execute("SELECT id FROM documents WHERE collection = ?", (collection,))
        return {row[0] for row in rows}


async def test_runs_ready_at_night_queue_start_after_the_opening_and_cancel(stack: Stack) -> None:
    bootstrap = stack.kafka.bootstrap_servers
    db = Path(stack.store_url("order-router").removeprefix("sqlite:///"))
    simulator(
        stack,
        "POST",
        "/admin/prices",
        {"prices": [{"symbol": s, "price": p} for s, p in PRICES.items()]},
    )
    simulator(stack, "POST", "/admin/config", {"fill_mode": "partial"})  # half fills, rest rests
    now = NIGHT.astimezone(UTC)
    prices = [
        PriceUpdated(symbol=s, price=Decimal(p), as_of=now, producer="price-feed")
        for s, p in PRICES.items()
    ]
    runs = {
        "canceled-queued": ready("canceled-queued", (1, "AAPL", "sell", "2", "200")),
        "starts": ready("starts", (1, "AAPL", "sell", "4", "201")),
        "canceled-mid-run": ready(
            "canceled-mid-run", (1, "AAPL", "sell", "6", "200"), (2, "MSFT", "buy", "1", "400")
        ),
        "moved": ready("moved", (1, "VTI", "sell", "3", "250")),
    }

    async with TopicReader(bootstrap, "run.execution") as execution:
        # -- 02:00 New York: everything queues, nothing reaches the broker -------------------
        await publish(bootstrap, *prices, *runs.values())
        try:
            events = await execution.wait_for(
                lambda ev: all(of(ev, RunExecutionQueued, r) for r in runs), timeout=60
            )
        except TimeoutError:
            raise AssertionError(logs(stack)) from None
        for run_id in runs:
            (queued,) = of(events, RunExecutionQueued, run_id)
            assert queued.starts_at == OPENING
        await publish(bootstrap, cancel("canceled-queued"))
        events = await execution.wait_for(
            lambda ev: bool(of(ev, RunExecutionStopped, "canceled-queued"))
        )
        (stopped,) = of(events, RunExecutionStopped, "canceled-queued")
        assert (stopped.outcome, stopped.reason) == ("canceled", "owner canceled")
        await until(lambda: set(PRICES) <= stored_ids(db, "last_prices"), "the router's prices")
        assert broker_orders(stack) == {}
        assert not [e for e in execution.events() if isinstance(e, RunExecutionStarted)]

        # -- the router restarts at 09:29:52: the queue is in its store ----------------------
        restart_router(stack, JUST_BEFORE_OPEN)
        try:
            events = await execution.wait_for(
                lambda ev: (
                    bool(of(ev, RunExecutionStarted, "canceled-mid-run"))
                    and bool(of(ev, RunExecutionStarted, "starts"))
                    and bool(of(ev, RunExecutionStopped, "moved"))
                ),
                timeout=60,
            )
        except TimeoutError:
            raise AssertionError(logs(stack)) from None
        for run_id in ("starts", "canceled-mid-run"):
            (started,) = of(events, RunExecutionStarted, run_id)
            assert started.started_at >= OPENING  # not one moment before the window opened
        (replan,) = of(events, RunExecutionStopped, "moved")
        assert replan.outcome == "replan" and "VTI moved +10.00%" in replan.reason

        # -- the sell of canceled-mid-run rests half filled: cancel the run ------------------
        sell = "rebal-canceled-mid-run-001.sell.AAPL"
        await until(lambda: sell in broker_orders(stack), "the sell at the broker")
        await publish(bootstrap, cancel("canceled-mid-run"))
        events = await execution.wait_for(
            lambda ev: bool(of(ev, RunExecutionStopped, "canceled-mid-run"))
        )
        (mid_run,) = of(events, RunExecutionStopped, "canceled-mid-run")
        assert mid_run.outcome == "canceled_mid_run"

        async with TopicReader(bootstrap, "order.closed") as closed_topic:
            closed = await closed_topic.wait_for(
                lambda ev: len(of(ev, OrderClosed, "canceled-mid-run")) >= 2
            )
        closes = {c.symbol: c for c in of(closed, OrderClosed, "canceled-mid-run")}
        assert (closes["MSFT"].status.value, closes["MSFT"].reason) == ("canceled", "run canceled")
        assert closes["AAPL"].status.value == "canceled" and closes["AAPL"].filled_qty == Decimal(3)
        async with TopicReader(bootstrap, "order.filled") as filled_topic:
            fills = await filled_topic.wait_for(
                lambda ev: bool(of(ev, OrderFilled, "canceled-mid-run"))
            )
        assert [f.filled_qty for f in of(fills, OrderFilled, "canceled-mid-run")] == [Decimal(3)]

        await execution.settle(1.0)
        orders = broker_orders(stack)
        assert orders[sell]["status"] == "canceled"
        # the two runs that started sent their sells; the buy of the canceled run never left
        assert set(orders) == {"rebal-starts-001.sell.AAPL", sell}
        stops = [e for e in execution.events() if isinstance(e, RunExecutionStopped)]
        assert sorted((e.run_id, e.outcome) for e in stops) == [
            ("canceled-mid-run", "canceled_mid_run"),
            ("canceled-queued", "canceled"),
            ("moved", "replan"),
        ]  # each once
