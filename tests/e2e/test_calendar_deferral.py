"""A calendar slot that meets a portfolio blocked by an open run is not dropped: it is deferred to
the unblock and rebalances once when the run settles (docs/design.md §3 "Nothing silently
dropped"), over the real broker, the broker simulator and the four services that carry a run.

The blocking run is a manual one (it does not use the day's one automatic run, so the deferred
slot may act the same day). The simulator fills half of each order and rests the rest, so the run
stays IN_PROGRESS while the quarterly slot arrives (twice: a redelivery); the end of the trading
day expires what rests, the run ends COMPLETED_ADJUSTED and settles (T+0), and the slot's
rebalance follows by itself. The slot is published as the scheduler publishes it (its event id
and slot id); the scheduler's own calendar is proven in test_triggers.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from rebal_demo.book import balanced_account
from rebal_demo.scenario import INITIAL_PRICES

from rebal_runtime.calendar import NEW_YORK
from rebal_runtime.stack import Stack
from rebal_runtime.testing.kafka import TopicReader
from rebal_runtime.topics_admin import ensure_topics
from rebal_schemas import (
    BrokerIntegration,
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
    RunSettled,
    Weight,
)

from .broker_helpers import publish_consumed, simulator
from .conftest import logs, running_stack

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

PORTFOLIO = "quarterly-held"
MODEL = "quarterly"


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Stack]:
    with running_stack(
        tmp_path_factory,
        request,
        "deferral",
        only=("broker-simulator", "optimizer", "order-router", "settlement-tracker"),
    ) as running:
        yield running


def model(day: int) -> ModelUpdated:
    return ModelUpdated(
        model_id=MODEL,
        name="Quarterly",
        weights=(
            Weight(type="cash", percent=Decimal(5)),
            Weight(type="asset", symbol="SPY", percent=Decimal(60)),
            Weight(type="asset", symbol="TLT", percent=Decimal(35)),
        ),
        rebalance_conditions=(
            RebalanceCondition(type="calendar", sub_type="quarterly", day=str(day)),
        ),
    )


def balanced_subscriber(followed: ModelUpdated) -> list[Event]:
    """Invested at the model's weights: the subscription's own evaluation finds nothing to trade
    (and so does not use the day's automatic run)."""
    account = balanced_account(followed, Decimal(50_000), INITIAL_PRICES)
    return [
        PortfolioSettingsChanged(
            portfolio_id=PORTFOLIO,
            mandate=Mandate.DISCRETIONARY,
            broker_integration=BrokerIntegration.PLATFORM,
            optimizer=OptimizerMode.PLATFORM,
            model_id=MODEL,
        ),
        HoldingsReported(
            portfolio_id=PORTFOLIO,
            as_of=datetime.now(UTC),
            holdings=dict(account.holdings),
            cash=account.cash,
        ),
    ]


def optimizations(events: list[Event]) -> list[OptimizationCreated]:
    return [e for e in events if isinstance(e, OptimizationCreated) and e.portfolio_id == PORTFOLIO]


def test_a_quarterly_slot_blocked_by_an_open_run_rebalances_once_when_the_run_settles(
    stack: Stack,
) -> None:
    bootstrap = stack.kafka.bootstrap_servers
    day = datetime.now(NEW_YORK).date()
    slot_id = f"calendar:{MODEL}:{day.isoformat()}"
    slot = RebalanceRequested(
        event_id=f"slot:{slot_id}",
        scope="model",
        model_id=MODEL,
        reason="calendar",
        slot_id=slot_id,
        producer="scheduler",
    )

    stage: list[str] = []

    async def scenario() -> tuple[list[Event], list[Event], list[Event]]:
        await ensure_topics(bootstrap)
        now = datetime.now(UTC)
        prices = [
            PriceUpdated(symbol=s, price=INITIAL_PRICES[s], as_of=now) for s in ("SPY", "TLT")
        ]
        quarterly = model(day.day)
        await publish_consumed(bootstrap, *prices, quarterly)
        await publish_consumed(bootstrap, *balanced_subscriber(quarterly))
        # SPY +20 %: 64 % of the portfolio against 60 (no drift band: nothing acts on it alone)
        spy_up = PriceUpdated(symbol="SPY", price=Decimal("600.00"), as_of=datetime.now(UTC))
        await publish_consumed(bootstrap, spy_up)
        simulator(stack, "POST", "/admin/config", {"fill_mode": "partial"})
        async with (
            TopicReader(bootstrap, OptimizationCreated.TOPIC) as created,
            TopicReader(bootstrap, RunCompleted.TOPIC) as completed,
            TopicReader(bootstrap, RunSettled.TOPIC) as settled,
        ):
            manual = RebalanceRequested(scope="portfolio", portfolio_id=PORTFOLIO, reason="manual")
            await publish_consumed(bootstrap, manual)
            stage.append("manual")
            await created.wait_for(lambda evs: bool(optimizations(evs)), timeout=60)

            # The run is open (half filled, the rest resting): the slot meets a blocked portfolio.
            stage.append("slot")
            await publish_consumed(bootstrap, slot, slot)  # the second is a redelivery
            await created.wait_for(
                lambda evs: any(o.trigger == "calendar" for o in optimizations(evs)), timeout=60
            )
            await completed.poll()
            assert not completed.events(), "the run ended before the slot met it"

            # The day ends: what rests expires, the run completes adjusted and settles (T+0),
            # and the slot's rebalance runs by itself, its orders filled in full.
            simulator(stack, "POST", "/admin/config", {"fill_mode": "immediate"})
            simulator(stack, "POST", "/admin/end-of-day")
            stage.append("end of day")
            await completed.wait_for(
                lambda evs: len([e for e in evs if isinstance(e, RunCompleted)]) >= 2, timeout=90
            )
            await settled.wait_for(
                lambda evs: len([e for e in evs if isinstance(e, RunSettled)]) >= 2, timeout=60
            )
            await created.settle(2.0)  # a second slot rebalance would have come by now
            return created.events(), completed.events(), settled.events()

    try:
        created, completed, settled = asyncio.run(scenario())
    except TimeoutError:
        raise AssertionError(f"timed out after: {stage}\n{logs(stack)}") from None

    first, held, rebalance = [o for o in optimizations(created) if o.trigger != "holdings"]
    assert (first.trigger, first.status, first.initiated_from) == ("manual", "READY", "system")
    assert (held.trigger, held.status, held.reasons[0].code) == (
        "calendar",
        "NOT_RECOMMENDED",
        "BLOCKED",
    )
    assert any(c.name == "blocked" and c.met for c in held.decision)
    assert [r.detail for r in held.reasons if r.code == "DEFERRED"] == [
        "calendar: evaluated when unblocked"
    ]
    runs = [e for e in completed if isinstance(e, RunCompleted)]
    assert [r.id for r in runs] == [first.optimization_id, rebalance.optimization_id]
    assert runs[0].status.value == "COMPLETED_ADJUSTED"  # half of each order filled
    (first_settled,) = [e for e in settled if isinstance(e, RunSettled) and e.run_id == runs[0].id]
    # the slot's rebalance came from the settlement, not from anything else
    assert (rebalance.trigger, rebalance.status) == ("calendar", "READY")
    assert rebalance.causation_id == first_settled.event_id
    assert any(c.name == "deferred" and c.value == "calendar" for c in rebalance.decision)
    # what the half fills left undone is done now: SPY sold back to the model, in full
    assert not runs[1].failed_orders
    assert runs[1].orders and all(o.status.value == "filled" for o in runs[1].orders)
    assert runs[1].holdings_delta["SPY"] < 0
