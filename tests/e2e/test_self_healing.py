"""A partial run heals itself over the real stack (simulator, optimizer, order-router,
settlement-tracker as processes): the broker rejects one symbol, so the first funding ends
COMPLETED_ADJUSTED; the optimizer plans a follow-up run (`retry_of` the original) without a new
trigger once the run settled, and with the broker accepting the symbol again it completes in
full. The broker starts accepting again as soon as the rejection is seen; should a retry still
meet it (it fails as a whole: ERROR), the next one (the limit is 3) does not."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from rebal_demo.scenario import INITIAL_PRICES

from rebal_runtime.stack import Stack
from rebal_runtime.testing.kafka import TopicReader, read_to_end
from rebal_runtime.topics_admin import ensure_topics
from rebal_schemas import (
    BrokerIntegration,
    CashDeposited,
    Mandate,
    ModelUpdated,
    OptimizationCreated,
    OptimizerMode,
    OrderClosed,
    PortfolioSettingsChanged,
    PriceUpdated,
    RunCompleted,
    RunCreated,
    RunStatus,
    Weight,
)

from .broker_helpers import broker_orders, publish, publish_consumed, simulator, until
from .conftest import logs, running_stack

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

PORTFOLIO = "self-healing"
MODEL = ModelUpdated(
    model_id="heals",
    name="Heals",
    weights=(
        Weight(type="asset", symbol="SPY", percent=Decimal(60)),
        Weight(type="asset", symbol="TLT", percent=Decimal(35)),
        Weight(type="cash", percent=Decimal(5)),
    ),
)


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Stack]:
    with running_stack(
        tmp_path_factory,
        request,
        "healing",
        only=("broker-simulator", "optimizer", "order-router", "settlement-tracker"),
        service_overrides={"optimizer": {"REBAL_LOG_LEVEL": "INFO"}},
    ) as running:
        yield running


def test_a_partial_run_is_retried_as_a_linked_run_that_completes(stack: Stack) -> None:
    bootstrap = stack.kafka.bootstrap_servers
    now = datetime.now(UTC)
    prices = [PriceUpdated(symbol=s, price=INITIAL_PRICES[s], as_of=now) for s in ("SPY", "TLT")]
    # the broker's prices set, not left to its market.prices consumer (it could read them late)
    quotes = [{"symbol": p.symbol, "price": str(p.price)} for p in prices]
    simulator(stack, "POST", "/admin/prices", {"prices": quotes})
    simulator(stack, "POST", "/admin/config", {"reject_symbols": ["TLT"]})

    async def scenario() -> tuple[list[RunCompleted], list[RunCreated], list[OptimizationCreated]]:
        await ensure_topics(bootstrap)
        await publish_consumed(bootstrap, *prices, MODEL)
        async with (
            TopicReader(bootstrap, "run.completed") as done,
            TopicReader(bootstrap, "order.closed") as closed,
        ):
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
            # the broker's own record is the first to show the rejection: accept TLT again
            await until(
                lambda: any(
                    o["symbol"] == "TLT" and o["status"] == "rejected"
                    for o in broker_orders(stack).values()
                ),
                "TLT rejected at the broker",
                timeout=120,
            )
            simulator(stack, "POST", "/admin/config", {"reject_symbols": []})
            await closed.wait_for(
                lambda evs: any(
                    isinstance(e, OrderClosed) and e.symbol == "TLT" and e.portfolio_id == PORTFOLIO
                    for e in evs
                ),
                timeout=120,
            )
            runs = await done.wait_for(
                lambda evs: any(
                    isinstance(e, RunCompleted)
                    and e.portfolio_id == PORTFOLIO
                    and e.retry_of is not None
                    and e.status is RunStatus.COMPLETED_SUCCESS
                    for e in evs
                ),
                timeout=240,
            )
        # a run's creation and its optimization came before its run.completed: reading both
        # topics to their end now is sure to hold them (a quiet period is not)
        statuses = await read_to_end("run.status_changed", bootstrap_servers=bootstrap)
        created = await read_to_end("optimization.created", bootstrap_servers=bootstrap)
        mine = [e for e in runs if isinstance(e, RunCompleted) and e.portfolio_id == PORTFOLIO]
        return (
            mine,
            [e for e in statuses if isinstance(e, RunCreated)],
            [
                e
                for e in created
                if isinstance(e, OptimizationCreated) and e.portfolio_id == PORTFOLIO
            ],
        )

    try:
        runs, created_runs, optimizations = asyncio.run(scenario())
    except TimeoutError:
        raise AssertionError(logs(stack)) from None
    first = runs[0]
    assert first.retry_of is None and first.status is RunStatus.COMPLETED_ADJUSTED
    assert [o.symbol for o in first.failed_orders] == ["TLT"]
    retries = [r for r in runs if r.retry_of is not None]
    assert {r.retry_of for r in retries} == {first.run_id}
    healed = retries[-1]
    assert healed.status is RunStatus.COMPLETED_SUCCESS
    (failed,) = first.failed_orders
    assert failed.filled_qty == 0 and failed.status.value == "rejected"
    # what was left undone is bought: the whole notional, to a share's fraction
    assert failed.notional is not None
    bought = healed.holdings_delta["TLT"] * INITIAL_PRICES["TLT"]
    assert failed.notional - Decimal("0.05") <= bought <= failed.notional
    # the link is on the run's creation too, and the retry's decision record says why
    linked = {c.id for c in created_runs if c.retry_of == first.run_id}
    assert {r.run_id for r in retries} <= linked
    retry_opts = [o for o in optimizations if o.retry_of == first.run_id]
    assert retry_opts and all(any(r.code == "RETRY" for r in o.reasons) for o in retry_opts)
    assert len(retries) <= 3
