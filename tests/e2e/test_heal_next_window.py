"""A partial run heals itself in the NEXT execution window, over the real stack (simulator,
optimizer, order-router, settlement-tracker as processes), the order-router on New York's
calendar.

The router's clock starts five minutes before a session's window closes (15:30 New York): the
funding run starts at once; the broker rejects TLT and fills half of SPY, whose rest stays open
at the broker. The router is restarted at the session's close (its clock moved on, the run in its
store), the broker's day ends (the rest of SPY expires), so the run ends COMPLETED_ADJUSTED. Once
it settled, the optimizer plans the retry by itself (`retry_of` the original, no new trigger);
the window is closed, so the router QUEUES it for the next session's 09:30 opening and nothing
reaches the broker. Restarted just before that opening, the router starts it after 09:30 and it
completes in full: TLT bought, and the rest of SPY.

Only the router's clock is moved (`REBAL_CLOCK_START_AT`); the optimizer and the
settlement-tracker keep the demo's settings (ALWAYS_OPEN, T+0) on the real clock. They must: the
broker simulator dates its fills with the real clock, and the tracker settles a fill on its trade
date, so on New York's calendar a fill on a weekend, or any fill under T+1, would settle only
after the test and the retry, which waits for the settlement, would never come. The sessions are
the first one on or after today and the next one, not fixed dates: the tracker times a run out 24
hours after the router's start time (on its own clock), and a run started on a date long past
would time out while its SPY order still rests.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import TypeVar

import pytest
from rebal_demo.scenario import INITIAL_PRICES

from rebal_runtime.calendar import NEW_YORK, trading_calendar
from rebal_runtime.stack import Stack
from rebal_runtime.testing.kafka import TopicReader
from rebal_runtime.topics_admin import ensure_topics
from rebal_schemas import (
    BrokerIntegration,
    CashDeposited,
    Event,
    Mandate,
    ModelUpdated,
    OptimizationCreated,
    OptimizerMode,
    PortfolioSettingsChanged,
    PriceUpdated,
    RunCompleted,
    RunCreated,
    RunExecutionQueued,
    RunExecutionStarted,
    RunInitiator,
    RunStatus,
    Weight,
)

from .broker_helpers import (
    broker_orders,
    publish,
    publish_consumed,
    restart_router,
    simulator,
    until,
)
from .conftest import logs, running_stack

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

E = TypeVar("E", bound=Event)

PORTFOLIO = "heals-next-window"
MODEL = ModelUpdated(
    model_id="heals-next-window",
    name="Heals next window",
    weights=(
        Weight(type="asset", symbol="SPY", percent=Decimal(60)),
        Weight(type="asset", symbol="TLT", percent=Decimal(35)),
        Weight(type="cash", percent=Decimal(5)),
    ),
)


@dataclass(frozen=True)
class Timeline:
    executes: datetime  # the router's first clock: five minutes before the window closes
    window_closes: datetime
    day_ends: datetime  # the session's close: the broker's day orders expire
    before_opening: datetime  # the router's clock at its second restart
    opening: datetime  # the next session's window opens (UTC)


def timeline() -> Timeline:
    """The first session on or after today (New York) and the next one; early closes too."""
    calendar = trading_calendar("XNYS")
    today = datetime.now(NEW_YORK).date()
    day = today if calendar.is_session(today) else calendar.next_session(today)
    session_close = calendar.session_close(day)
    closes = min(datetime.combine(day, time(15, 30), NEW_YORK).astimezone(UTC), session_close)
    following = calendar.next_session(day)
    following_open, _ = calendar.session_open_close(following)
    opening = max(
        datetime.combine(following, time(9, 30), NEW_YORK).astimezone(UTC), following_open
    )
    return Timeline(
        executes=closes - timedelta(minutes=5),
        window_closes=closes,
        day_ends=session_close,
        before_opening=opening - timedelta(seconds=8),
        opening=opening,
    )


TIMES = timeline()
ROUTER = {
    "REBAL_TRADING_CALENDAR": "XNYS",
    "REBAL_CLOCK_START_AT": TIMES.executes.isoformat(),
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
        "heal-next-window",
        only=("broker-simulator", "optimizer", "order-router", "settlement-tracker"),
        service_overrides={"order-router": ROUTER, "optimizer": {"REBAL_LOG_LEVEL": "INFO"}},
    ) as running:
        yield running


def statuses_at_broker(stack: Stack, run_id: str) -> dict[str, str]:
    """The status of each order of the run the broker holds, by symbol."""
    orders = broker_orders(stack)
    return {o["symbol"]: o["status"] for coid, o in orders.items() if run_id in coid}


def mine(events: list[Event], kind: type[E]) -> list[E]:
    """The events of `kind` of this test's portfolio."""
    return [
        e for e in events if isinstance(e, kind) and getattr(e, "portfolio_id", None) == PORTFOLIO
    ]


async def test_a_partial_run_at_the_close_is_retried_in_the_next_window(stack: Stack) -> None:
    bootstrap = stack.kafka.bootstrap_servers
    now = datetime.now(UTC)
    prices = [PriceUpdated(symbol=s, price=INITIAL_PRICES[s], as_of=now) for s in ("SPY", "TLT")]
    # the broker's prices set, not left to its market.prices consumer (it could read them late)
    quotes = [{"symbol": p.symbol, "price": str(p.price)} for p in prices]
    simulator(stack, "POST", "/admin/prices", {"prices": quotes})
    simulator(stack, "POST", "/admin/config", {"reject_symbols": ["TLT"], "fill_mode": "partial"})
    await ensure_topics(bootstrap)
    await publish_consumed(bootstrap, *prices, MODEL)

    async with (
        TopicReader(bootstrap, "run.execution") as execution,
        TopicReader(bootstrap, "run.completed") as done,
        TopicReader(bootstrap, "run.status_changed") as statuses,
        TopicReader(bootstrap, "optimization.created") as created,
    ):
        # -- five minutes before the close: the funding run starts -------------------------
        await publish(
            bootstrap,
            PortfolioSettingsChanged(
                portfolio_id=PORTFOLIO,
                mandate=Mandate.DISCRETIONARY,
                broker_integration=BrokerIntegration.PLATFORM,
                optimizer=OptimizerMode.PLATFORM,
                model_id=MODEL.model_id,
                max_order_retries=3,
            ),
            CashDeposited(portfolio_id=PORTFOLIO, amount=Decimal("20000")),
        )
        try:
            events = await execution.wait_for(
                lambda ev: bool(mine(ev, RunExecutionStarted)), timeout=120
            )
            (started,) = mine(events, RunExecutionStarted)
            original = started.run_id
            await until(
                lambda: (
                    statuses_at_broker(stack, original)
                    == {"SPY": "partially_filled", "TLT": "rejected"}
                ),
                "SPY half filled and resting, TLT rejected at the broker",
            )
        except TimeoutError:
            raise AssertionError(logs(stack)) from None
        assert TIMES.executes <= started.started_at < TIMES.window_closes
        simulator(stack, "POST", "/admin/config", {"reject_symbols": [], "fill_mode": "immediate"})

        # -- the session's close: the router's clock moves on, the broker's day ends -------
        try:
            restart_router(stack, TIMES.day_ends)
            expired = simulator(stack, "POST", "/admin/end-of-day")["expired"]
            assert [(o["symbol"], original in o["client_order_id"]) for o in expired] == [
                ("SPY", True)
            ]
            events = await execution.wait_for(
                lambda ev: any(e.run_id != original for e in mine(ev, RunExecutionQueued)),
                timeout=120,
            )
        except TimeoutError:
            raise AssertionError(logs(stack)) from None
        (queued,) = mine(events, RunExecutionQueued)
        retry = queued.run_id
        assert queued.starts_at == TIMES.opening  # the next session's 09:30, New York
        assert TIMES.day_ends <= queued.occurred_at < TIMES.opening  # queued while closed
        assert statuses_at_broker(stack, retry) == {}  # nothing left for the broker
        assert [e.run_id for e in mine(execution.events(), RunExecutionStarted)] == [original]

        # -- the router restarts just before the next opening: the retry starts after it ---
        try:
            restart_router(stack, TIMES.before_opening)
            runs = await done.wait_for(
                lambda ev: any(e.run_id == retry for e in mine(ev, RunCompleted)), timeout=120
            )
            # what else the retry left on the topics: waited for, not a quiet period
            await execution.wait_for(lambda ev: len(mine(ev, RunExecutionStarted)) >= 2)
            await statuses.wait_for(lambda ev: len(mine(ev, RunCreated)) >= 2)
            await created.wait_for(
                lambda ev: any(o.retry_of for o in mine(ev, OptimizationCreated))
            )
        except TimeoutError:
            raise AssertionError(logs(stack)) from None

    completed = {e.run_id: e for e in mine(runs, RunCompleted)}
    assert set(completed) == {original, retry}  # one retry: it healed the run
    first, healed = completed[original], completed[retry]
    # the original: TLT rejected, SPY half filled and its rest expired at the broker's close
    assert first.retry_of is None and first.status is RunStatus.COMPLETED_ADJUSTED
    (failed,) = first.failed_orders
    assert (failed.symbol, failed.status.value, failed.filled_qty) == (
        "TLT",
        "rejected",
        Decimal(0),
    )
    (partial,) = first.orders
    assert (partial.symbol, partial.status.value) == ("SPY", "expired")
    # the retry: started inside the next window, completed in full, what was left undone bought
    (retry_started,) = [
        e for e in mine(execution.events(), RunExecutionStarted) if e.run_id == retry
    ]
    assert retry_started.started_at >= TIMES.opening
    assert healed.retry_of == original and healed.status is RunStatus.COMPLETED_SUCCESS
    # TLT by notional: the whole amount, to a share's fraction; SPY by whole shares: the rest
    assert failed.notional is not None and partial.qty is not None
    bought = healed.holdings_delta["TLT"] * INITIAL_PRICES["TLT"]
    assert failed.notional - Decimal("0.05") <= bought <= failed.notional
    assert 0 < partial.filled_qty < partial.qty
    assert healed.holdings_delta["SPY"] == partial.qty - partial.filled_qty
    # the original stays linked: on the retry's creation, its decision record says why
    created_runs = mine(statuses.events(), RunCreated)
    assert {(c.id, c.retry_of) for c in created_runs} == {(original, None), (retry, original)}
    (retry_opt,) = [
        o for o in mine(created.events(), OptimizationCreated) if o.retry_of is not None
    ]
    assert retry_opt.optimization_id == retry and retry_opt.retry_of == original
    assert retry_opt.initiated_from is RunInitiator.system  # no new trigger: the optimizer's own
    assert any(r.code == "RETRY" for r in retry_opt.reasons)
