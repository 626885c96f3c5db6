"""Triggers across the whole stack: the real scheduler's calendar slot fans out to a model's
subscribers, and a model change re-evaluates its subscribers into completed runs."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from aiokafka import AIOKafkaProducer
from rebal_demo.__main__ import DEMO_ENVIRONMENT
from rebal_demo.book import balanced_account
from rebal_demo.scenario import INITIAL_PRICES

from rebal_runtime.stack import Stack
from rebal_runtime.testing.kafka import TopicReader
from rebal_runtime.topics_admin import ensure_topics
from rebal_schemas import (
    BrokerIntegration,
    Event,
    HoldingsReported,
    Mandate,
    ModelUpdated,
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

from .conftest import logs

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


@pytest.fixture(scope="module")
def fires_at() -> datetime:
    """When the calendar slot comes due, on the real clock (decided when the stack starts; the
    calendar test runs first so that its model is known well before then)."""
    return datetime.now(UTC) + timedelta(seconds=90)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, fires_at: datetime) -> Iterator[Stack]:
    overrides = {
        **DEMO_ENVIRONMENT,
        # ALWAYS_OPEN reads times of day in UTC; the whole day is the trading window.
        "REBAL_CALENDAR_TIME": fires_at.strftime("%H:%M:%S"),
        "REBAL_TRADING_WINDOW_START": "00:00",
        "REBAL_TRADING_WINDOW_END": "23:59:59",
        "REBAL_CLOSE_MARGIN_MINUTES": "0",
        "REBAL_TICK_SECONDS": "1",
    }
    running = Stack(tmp_path_factory.mktemp("stack"), overrides=overrides)
    running.start(echo=False)
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


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


def test_calendar_condition_fires_from_the_scheduler_to_every_subscriber(
    stack: Stack, fires_at: datetime
) -> None:
    bootstrap = stack.kafka.bootstrap_servers
    day = fires_at.date()
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
        await publish(bootstrap, model)
        await asyncio.sleep(1)
        await publish(bootstrap, *subscribers(model, ids))
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
        await publish(
            bootstrap,
            *(PriceUpdated(symbol=s, price=p, as_of=now) for s, p in INITIAL_PRICES.items()),
            v1,
        )
        await asyncio.sleep(1)
        await publish(bootstrap, *subscribers(v1, ids))
        await asyncio.sleep(3)
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
