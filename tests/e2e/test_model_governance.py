"""Model governance over the whole stack, with the order-router living at 02:00 New York on a
trading day (XNYS; `REBAL_CLOCK_START_AT`, dev profile), so a run made now is QUEUED:

- a manual run with its own weights for a subscribed portfolio is refused on `request.rejected`,
  naming the request in `causation_id`;
- a price event saying a model's symbol is no longer tradable turns the model `needs_adjustment`
  at once (`model.status_changed`), and the queued run of its subscriber is cancelled (CANCELED,
  no order sent);
- a model update that drops the symbol makes it `active` again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

import pytest
from rebal_demo.__main__ import DEMO_ENVIRONMENT

from rebal_client.kafka import Publisher, wait_until_consumed
from rebal_runtime.calendar import NEW_YORK, trading_calendar
from rebal_runtime.stack import Stack
from rebal_runtime.testing.kafka import TopicReader
from rebal_runtime.testing.pytest_plugin import stack_kafka, unique
from rebal_schemas import (
    BrokerIntegration,
    CashDeposited,
    HoldingsReported,
    Mandate,
    ModelStatus,
    ModelStatusChanged,
    ModelUpdated,
    OptimizerMode,
    PortfolioSettingsChanged,
    PriceUpdated,
    RebalanceRequested,
    RejectionCode,
    RequestRejected,
    RunCompleted,
    RunExecutionQueued,
    RunStatus,
    Weight,
)

from .conftest import logs

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

E = TypeVar("E")


def night() -> datetime:
    """02:00 New York on the latest trading session: the window opens 7.5 hours later."""
    calendar = trading_calendar("XNYS")
    today = datetime.now(NEW_YORK).date()
    session = today if calendar.is_session(today) else calendar.previous_session(today)
    return datetime(session.year, session.month, session.day, 2, 0, tzinfo=NEW_YORK)


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Stack]:
    running = Stack(
        tmp_path_factory.mktemp("governance"),
        overrides=DEMO_ENVIRONMENT,
        service_overrides={
            "order-router": {
                "REBAL_TRADING_CALENDAR": "XNYS",
                "REBAL_CLOCK_START_AT": night().isoformat(),
            }
        },
        kafka=stack_kafka(request.config),
    )
    running.start(echo=False)
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


def weights(**percents: int) -> tuple[Weight, ...]:
    return tuple(Weight(type="asset", symbol=s, percent=Decimal(p)) for s, p in percents.items())


def mine(events: list[Any], kind: type[E], **match: object) -> list[E]:
    return [
        e
        for e in events
        if isinstance(e, kind) and all(getattr(e, k, None) == v for k, v in match.items())
    ]


async def first(reader: TopicReader, kind: type[E], timeout: float = 120, **match: object) -> E:
    events = await reader.wait_for(lambda evs: bool(mine(evs, kind, **match)), timeout=timeout)
    return mine(events, kind, **match)[0]


def test_refusals_needs_adjustment_and_recovery(stack: Stack) -> None:
    bootstrap = stack.kafka.bootstrap_servers
    model, funded, other = unique("model"), unique("pf"), unique("pf")
    now = datetime.now(UTC)

    async def scenario() -> None:
        async with Publisher(bootstrap) as publisher:
            reference = await publisher.publish_tracked(
                [
                    PriceUpdated(symbol="SPY", price=Decimal("400"), as_of=now),
                    PriceUpdated(symbol="TLT", price=Decimal("100"), as_of=now),
                    ModelUpdated(model_id=model, name="60/40", weights=weights(SPY=60, TLT=40)),
                ]
            )
            await wait_until_consumed(bootstrap, "optimizer", reference, 60)
            subscribed = await publisher.publish_tracked(
                [
                    *(
                        PortfolioSettingsChanged(
                            portfolio_id=pid,
                            account_id=f"acct-{pid}",
                            mandate=mandate,
                            broker_integration=BrokerIntegration.PLATFORM,
                            optimizer=OptimizerMode.PLATFORM,
                            model_id=model,
                        )
                        for pid, mandate in (
                            (funded, Mandate.DISCRETIONARY),
                            (other, Mandate.ADVISORY),
                        )
                    ),
                    # An advisory account with cash: its proposal waits for the owner.
                    HoldingsReported(portfolio_id=other, cash=Decimal("1000.00"), as_of=now),
                ]
            )
            await wait_until_consumed(bootstrap, "optimizer", subscribed, 60)
            async with (
                TopicReader(bootstrap, "request.rejected") as rejections,
                TopicReader(bootstrap, "run.execution") as execution,
                TopicReader(bootstrap, "model.status_changed") as model_status,
                TopicReader(bootstrap, "run.completed") as completions,
            ):
                # A manual run with its own weights while subscribed: refused, visibly.
                own = RebalanceRequested(
                    scope="portfolio",
                    portfolio_id=other,
                    reason="manual",
                    initiated_from="api",
                    weights=weights(SPY=100),
                )
                await publisher.publish(own)
                refusal = await first(rejections, RequestRejected, causation_id=own.event_id)
                assert refusal.reason_code is RejectionCode.OWN_WEIGHTS_WHILE_SUBSCRIBED
                assert refusal.portfolio_id == other

                # The funded subscriber's first funding: a run, QUEUED until 09:30.
                await publisher.publish(
                    CashDeposited(portfolio_id=funded, amount=Decimal("1000.00"))
                )
                queued = await first(execution, RunExecutionQueued, portfolio_id=funded)

                # TLT stops trading: the model needs adjustment, the queued run is cancelled.
                await publisher.publish(
                    PriceUpdated(
                        symbol="TLT",
                        price=Decimal("100"),
                        as_of=datetime.now(UTC),
                        tradable=False,
                    )
                )
                flagged = await first(
                    model_status,
                    ModelStatusChanged,
                    model_id=model,
                    status=ModelStatus.needs_adjustment,
                )
                assert flagged.symbols == ("TLT",)
                canceled = await first(completions, RunCompleted, run_id=queued.run_id)
                assert canceled.status is RunStatus.CANCELED
                assert canceled.orders == ()
                assert canceled.failed_orders, "every planned order ended unsent"

                # The model drops TLT: active again.
                await publisher.publish(
                    ModelUpdated(model_id=model, name="All SPY", weights=weights(SPY=100))
                )
                await first(
                    model_status, ModelStatusChanged, model_id=model, status=ModelStatus.active
                )

    try:
        asyncio.run(scenario())
    except (AssertionError, TimeoutError) as error:
        raise AssertionError(f"{error}\n{logs(stack)}") from error
