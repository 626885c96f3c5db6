"""TIMEOUT over the whole stack: a CLIENT portfolio whose middleware never reports ends its run
TIMEOUT at the deadline, the portfolio is unblocked (a manual run is answered again), and a fill
that arrives after the deadline is still recorded and settled, marked late."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

import pytest

from rebal_client.kafka import Publisher, wait_until_consumed
from rebal_runtime.calendar import NEW_YORK
from rebal_runtime.stack import Stack
from rebal_runtime.testing.kafka import TopicReader
from rebal_runtime.testing.pytest_plugin import unique
from rebal_schemas import (
    BrokerIntegration,
    CashDeposited,
    Mandate,
    ModelUpdated,
    OptimizationCreated,
    OptimizationReady,
    OptimizerMode,
    OrderFilled,
    PortfolioSettingsChanged,
    PriceUpdated,
    RebalanceRequested,
    RunCompleted,
    RunCreated,
    RunSettled,
    RunStatus,
    TransactionSettled,
    TransactionStatus,
    Weight,
)

from .conftest import logs, running_stack

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

TIMEOUT_SECONDS = 4


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Stack]:
    with running_stack(
        tmp_path_factory,
        request,
        "stack",
        overrides={"REBAL_RUN_TIMEOUT_SECONDS": str(TIMEOUT_SECONDS)},
    ) as running:
        yield running


def test_a_silent_client_middleware_times_out_and_a_late_fill_still_counts(stack: Stack) -> None:
    bootstrap = stack.kafka.bootstrap_servers
    model, portfolio = unique("model"), unique("pf")

    async def scenario() -> None:
        async with Publisher(bootstrap) as publisher:
            reference = await publisher.publish_tracked(
                [
                    PriceUpdated(symbol="SPY", price=Decimal("400"), as_of=datetime.now(UTC)),
                    ModelUpdated(
                        model_id=model,
                        name="All SPY",
                        weights=(Weight(type="asset", symbol="SPY", percent=Decimal(100)),),
                    ),
                ]
            )
            await wait_until_consumed(bootstrap, "optimizer", reference, 60)
            await publisher.publish_many(
                [
                    PortfolioSettingsChanged(
                        portfolio_id=portfolio,
                        account_id=f"acct-{portfolio}",
                        mandate=Mandate.DISCRETIONARY,
                        broker_integration=BrokerIntegration.CLIENT,
                        optimizer=OptimizerMode.PLATFORM,
                        model_id=model,
                    ),
                    CashDeposited(portfolio_id=portfolio, amount=Decimal("1000.00")),
                ]
            )
            async with (
                TopicReader(bootstrap, "optimization.ready") as readies,
                TopicReader(bootstrap, "run.status_changed") as statuses,
                TopicReader(bootstrap, "run.completed") as completions,
                TopicReader(bootstrap, "run.settled") as settlements,
                TopicReader(bootstrap, "transaction.settled") as transactions,
                TopicReader(bootstrap, "optimization.created") as created,
            ):
                ready = await first(readies, OptimizationReady, portfolio, 120)
                # The middleware says nothing: the run ends TIMEOUT at the deadline.
                completed = await first(completions, RunCompleted, portfolio, 120)
                assert completed.status is RunStatus.TIMEOUT, completed
                assert completed.orders == ()
                assert {o.transaction_status for o in completed.failed_orders} == {
                    TransactionStatus.EXPIRED
                }
                assert all("deadline" in o.reason for o in completed.failed_orders)
                settled = await first(settlements, RunSettled, portfolio, 60)
                assert settled.status is RunStatus.TIMEOUT
                run = await first(statuses, RunCreated, portfolio, 30)
                assert run.id == ready.optimization_id
                assert completed.completed_at is not None
                waited = (completed.completed_at - run.created_at).total_seconds()
                assert waited >= TIMEOUT_SECONDS

                # The portfolio is unblocked: a manual run is answered with a new optimization.
                request = RebalanceRequested(
                    scope="portfolio", portfolio_id=portfolio, reason="manual"
                )
                await publisher.publish(request)
                await created.wait_for(
                    lambda evs: any(
                        isinstance(e, OptimizationCreated) and e.causation_id == request.event_id
                        for e in evs
                    ),
                    timeout=60,
                )

                # The middleware wakes up and reports the fill: recorded, settled, marked late.
                order = ready.orders[0]
                await publisher.publish(
                    OrderFilled(
                        run_id=ready.optimization_id,
                        portfolio_id=portfolio,
                        leg=order.leg,
                        client_order_id=f"mw-{ready.optimization_id}-{order.leg}",
                        symbol=order.symbol,
                        side=order.side,
                        filled_qty=Decimal("2"),
                        filled_avg_price=Decimal("400"),
                        trade_date=datetime.now(NEW_YORK).date(),  # the market's day
                        filled_at=datetime.now(UTC),
                        producer="middleware",
                    )
                )
                late = await first(transactions, TransactionSettled, portfolio, 60)
                assert (late.leg, late.qty, late.late) == (order.leg, Decimal("2"), True)
                await completions.settle(1.0)
                assert len(mine(completions.events(), RunCompleted, portfolio)) == 1

    try:
        asyncio.run(scenario())
    except (AssertionError, TimeoutError) as error:
        raise AssertionError(f"{error}\n{logs(stack)}") from error


E = TypeVar("E")


def mine(events: list[Any], kind: type[E], portfolio: str) -> list[E]:
    return [
        e for e in events if isinstance(e, kind) and getattr(e, "portfolio_id", "") == portfolio
    ]


async def first(reader: TopicReader, kind: type[E], portfolio: str, timeout: float) -> E:
    events = await reader.wait_for(lambda evs: bool(mine(evs, kind, portfolio)), timeout=timeout)
    return mine(events, kind, portfolio)[0]
