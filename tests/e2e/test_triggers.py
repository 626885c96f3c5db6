"""Triggers across the whole stack: the real scheduler's calendar slot fans out to a model's
subscribers, a model change re-evaluates its subscribers into completed runs, and a deposit read
before its price or its model is invested when that arrives.

Every wait is for a fact: reference data is confirmed read by the optimizer's group before what
depends on it is published, and the scheduler starts (with its slot a little ahead) only once the
model and its subscribers are known; a slot that passes while it is still reading the model is
still owed (its grace is `late_after`), so no clock race decides the outcome."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from rebal_demo.book import balanced_account
from rebal_demo.scenario import INITIAL_PRICES

from rebal_runtime.calendar import NEW_YORK
from rebal_runtime.processes import ServiceProcess
from rebal_runtime.stack import Stack
from rebal_runtime.testing.kafka import TopicReader
from rebal_runtime.topics_admin import ensure_topics
from rebal_schemas import (
    BrokerIntegration,
    CashDeposited,
    Event,
    HoldingsReported,
    Mandate,
    ModelUpdated,
    OptimizationCreated,
    OptimizerMode,
    PortfolioSettingsChanged,
    PriceUpdated,
    RebalanceCondition,
    RebalanceRequested,
    RunCompleted,
    Weight,
    encode,
    key_of,
)

from .broker_helpers import publish_consumed
from .conftest import logs, running_stack

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


SCHEDULER_ENVIRONMENT = {
    # ALWAYS_OPEN reads times of day in the market time zone (New York); the whole day is the
    # trading window.
    "REBAL_TRADING_WINDOW_START": "00:00",
    "REBAL_TRADING_WINDOW_END": "23:59:59",
    "REBAL_CLOSE_MARGIN_MINUTES": "0",
    "REBAL_TICK_SECONDS": "1",
    # The slot may pass while the new scheduler is still starting: a first start owes it.
    "REBAL_FIRST_START_BACKFILL_MINUTES": "5",
}


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Stack]:
    """Everything but the scheduler, which the calendar test starts when its facts are in."""
    with running_stack(
        tmp_path_factory,
        request,
        "stack",
        only=("broker-simulator", "optimizer", "order-router", "settlement-tracker"),
    ) as running:
        yield running


def start_scheduler(stack: Stack, fires_at: datetime) -> None:
    env = {
        **stack.service_env("scheduler"),
        **SCHEDULER_ENVIRONMENT,
        "REBAL_CALENDAR_TIME": fires_at.strftime("%H:%M:%S"),
    }
    process = ServiceProcess("scheduler", "rebal_scheduler", env)
    process.start(stack.var_dir, echo=False)
    stack.processes.append(process)
    stack.wait_ready(120)


def weights(**percent: str) -> tuple[Weight, ...]:
    return tuple(
        Weight(type="cash", percent=Decimal(p))
        if s == "cash"
        else Weight(type="asset", symbol=s, percent=Decimal(p))
        for s, p in percent.items()
    )


BAND = RebalanceCondition(type="drift_band", sub_type="absolute", percent=Decimal("5"))


async def publish(bootstrap: str, *events: Event) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for event in events:
            await producer.send_and_wait(event.TOPIC, encode(event), key=key_of(event))
    finally:
        await producer.stop()


def subscribers(model: ModelUpdated, ids: list[str]) -> list[Event]:
    """Accounts already invested exactly at the model's weights (nothing to trade yet)."""
    events: list[Event] = []
    account = balanced_account(model, Decimal(50_000), INITIAL_PRICES)
    for pid in ids:
        events.append(
            PortfolioSettingsChanged(
                portfolio_id=pid,
                mandate=Mandate.DISCRETIONARY,
                broker_integration=BrokerIntegration.PLATFORM,
                optimizer=OptimizerMode.PLATFORM,
                model_id=model.model_id,
            )
        )
        events.append(
            HoldingsReported(
                portfolio_id=pid,
                as_of=datetime.now(UTC),
                holdings=dict(account.holdings),
                cash=account.cash,
            )
        )
    return events


def test_calendar_condition_fires_from_the_scheduler_to_every_subscriber(stack: Stack) -> None:
    bootstrap = stack.kafka.bootstrap_servers
    # The slot's day (New York's, the market's) is decided now; its time once the subscribers
    # are known (below).
    day = (datetime.now(NEW_YORK) + timedelta(seconds=60)).date()
    model = ModelUpdated(
        model_id="monthly",
        name="Monthly",
        weights=weights(cash="5", SPY="60", TLT="35"),
        rebalance_conditions=(
            RebalanceCondition(type="calendar", sub_type="monthly", day=str(day.day)),
        ),
    )
    ids = [f"monthly-{i}" for i in range(3)]

    async def scenario() -> list[RebalanceRequested]:
        await ensure_topics(bootstrap)
        await publish_consumed(bootstrap, model)
        await publish_consumed(bootstrap, *subscribers(model, ids))
        start_scheduler(
            stack,
            max(
                datetime.now(NEW_YORK) + timedelta(seconds=5),
                datetime.combine(day, datetime.min.time(), NEW_YORK),
            ),
        )
        async with TopicReader(bootstrap, "rebalance.requested") as requests:
            events = await requests.wait_for(
                lambda evs: (
                    {
                        e.portfolio_id
                        for e in evs
                        if isinstance(e, RebalanceRequested) and e.reason.value == "calendar"
                    }
                    >= set(ids)
                ),
                timeout=240,
            )
        return [
            e for e in events if isinstance(e, RebalanceRequested) and e.reason.value == "calendar"
        ]

    requests = asyncio.run(scenario())
    slot = f"calendar:monthly:{day.isoformat()}"
    from_scheduler = [r for r in requests if r.scope == "model"]
    assert [r.slot_id for r in from_scheduler] == [slot], logs(stack)
    assert from_scheduler[0].event_id == f"slot:{slot}"
    children = [r for r in requests if r.scope == "portfolio" and r.portfolio_id in ids]
    assert sorted(r.portfolio_id for r in children) == ids  # one evaluation per subscriber
    assert all(r.slot_id == slot for r in children)


def test_model_change_re_evaluates_its_subscribers(stack: Stack) -> None:
    bootstrap = stack.kafka.bootstrap_servers
    v1 = ModelUpdated(
        model_id="switch",
        name="Switch",
        weights=weights(cash="5", SPY="60", TLT="35"),
        rebalance_conditions=(BAND,),
    )
    v2 = ModelUpdated(
        model_id="switch",
        name="Switch",
        weights=weights(cash="5", SPY="40", TLT="55"),
        rebalance_conditions=(BAND,),
    )
    ids = [f"switch-{i}" for i in range(4)]

    async def scenario() -> list[RunCompleted]:
        await ensure_topics(bootstrap)
        now = datetime.now(UTC)
        await publish_consumed(
            bootstrap,
            *(PriceUpdated(symbol=s, price=p, as_of=now) for s, p in INITIAL_PRICES.items()),
            v1,
        )
        # The subscribers are known (and invested at v1) before the model changes.
        await publish_consumed(bootstrap, *subscribers(v1, ids))
        await publish(bootstrap, v2)
        async with TopicReader(bootstrap, "run.completed") as done:
            events = await done.wait_for(
                lambda evs: (
                    {e.portfolio_id for e in evs if isinstance(e, RunCompleted)} >= set(ids)
                ),
                timeout=90,
            )
        return [e for e in events if isinstance(e, RunCompleted) and e.portfolio_id in ids]

    runs = asyncio.run(scenario())
    assert len(runs) == len(ids), logs(stack)
    for run in runs:
        assert run.status.value == "COMPLETED_SUCCESS"
        # 20 points moved from SPY to TLT: the run sold SPY and bought TLT
        assert run.holdings_delta["SPY"] < 0 < run.holdings_delta["TLT"]


def test_a_deposit_read_before_its_price_or_its_model_is_invested_when_it_arrives(
    stack: Stack,
) -> None:
    bootstrap = stack.kafka.bootstrap_servers
    now = datetime.now(UTC)
    priced = ModelUpdated(
        model_id="bonds-and-gold",
        name="Bonds and gold",
        weights=weights(cash="5", TLT="45", IAU="50"),
    )  # IAU: no price yet
    before_price, before_model = "early-deposit-price", "early-deposit-model"

    def opened(pid: str, model_id: str) -> list[Event]:
        return [
            PortfolioSettingsChanged(
                portfolio_id=pid,
                mandate=Mandate.DISCRETIONARY,
                broker_integration=BrokerIntegration.PLATFORM,
                optimizer=OptimizerMode.PLATFORM,
                model_id=model_id,
            ),
            CashDeposited(portfolio_id=pid, amount=Decimal("20000")),
        ]

    async def scenario() -> tuple[list[RunCompleted], list[OptimizationCreated]]:
        await ensure_topics(bootstrap)
        await publish_consumed(
            bootstrap, PriceUpdated(symbol="TLT", price=Decimal("90"), as_of=now), priced
        )
        # Read by the optimizer before what they need: the deposits cannot be invested yet.
        await publish_consumed(
            bootstrap,
            *opened(before_price, priced.model_id),
            *opened(before_model, "arrives-later"),
        )
        # The broker knows IAU already (it quotes every symbol); rebal reads it now.
        async with httpx.AsyncClient(timeout=30) as http:
            answer = await http.post(
                f"http://127.0.0.1:{stack.simulator_port}/admin/prices",
                json={"prices": [{"symbol": "IAU", "price": "40"}]},
                headers=stack.simulator_admin_headers(),
            )
            answer.raise_for_status()
        await publish(
            bootstrap,
            PriceUpdated(symbol="IAU", price=Decimal("40"), as_of=now),
            ModelUpdated(
                model_id="arrives-later", name="Arrives later", weights=weights(cash="5", TLT="95")
            ),
        )
        ids = {before_price, before_model}
        async with (
            TopicReader(bootstrap, "run.completed") as done,
            TopicReader(bootstrap, "optimization.created") as created,
        ):
            runs = await done.wait_for(
                lambda evs: {e.portfolio_id for e in evs if isinstance(e, RunCompleted)} >= ids,
                timeout=240,
            )
            await created.wait_for(
                lambda evs: (
                    {
                        e.portfolio_id
                        for e in evs
                        if isinstance(e, OptimizationCreated) and e.is_recommended
                    }
                    >= ids
                ),
                timeout=60,
            )
        mine = [e for e in runs if isinstance(e, RunCompleted) and e.portfolio_id in ids]
        return mine, [
            e
            for e in created.events()
            if isinstance(e, OptimizationCreated) and e.portfolio_id in ids
        ]

    runs, created = asyncio.run(scenario())
    assert {r.portfolio_id: r.status.value for r in runs} == {
        before_price: "COMPLETED_SUCCESS",
        before_model: "COMPLETED_SUCCESS",
    }, logs(stack)
    invested = {o.portfolio_id: o for o in created if o.is_recommended}
    waited = {
        pid: next(c.value for c in o.decision if c.name == "waited_for")
        for pid, o in invested.items()
    }
    assert waited == {before_price: "price:IAU", before_model: "model:arrives-later"}
    bought = {r.portfolio_id: set(r.holdings_delta) for r in runs}
    assert bought == {before_price: {"TLT", "IAU"}, before_model: {"TLT"}}
