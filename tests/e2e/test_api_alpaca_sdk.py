"""Alpaca's own SDK (alpaca-py 0.44, `BrokerClient(key, secret, url_override=...)`) against the
api of the whole embedded stack, with no workaround in any SDK call:

create_portfolio -> create_subscription -> a deposit (published on portfolio.patched as a
client would) -> get_all_runs shows the completed run with its orders -> get_run_by_id;
inactivate_portfolio_by_id refused (APIError 422) while subscribed, allowed after
unsubscribe_account; create_manual_run for the now unsubscribed account, which completes;
cancel_run_by_id of a final run is refused with 422.

cancel_run_by_id of a QUEUED run: test_api_queued_cancel.py (its order-router lives at night, so the
run waits for the execution window).
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest
from alpaca.broker.client import BrokerClient
from alpaca.broker.enums import PortfolioStatus, RunStatus, RunType, WeightType
from alpaca.broker.models.rebalancing import RebalancingRun
from alpaca.broker.requests import (
    CreatePortfolioRequest,
    CreateRunRequest,
    CreateSubscriptionRequest,
    GetRunsRequest,
    RebalancingConditions,
    Weight,
)
from alpaca.common.exceptions import APIError
from rebal_demo.scenario import INITIAL_PRICES

from rebal_client.kafka import Publisher, wait_until_consumed
from rebal_runtime.stack import Stack
from rebal_runtime.testing.kafka import TopicReader
from rebal_schemas import CashDeposited, PortfolioSettingsChanged, PriceUpdated

from .broker_helpers import eventually

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
FINAL = {RunStatus.COMPLETED_SUCCESS, RunStatus.COMPLETED_ADJUSTED, RunStatus.ERROR}


async def publish_prices(bootstrap: str) -> None:
    now = datetime.now(UTC)
    async with Publisher(bootstrap) as publisher:
        ends = await publisher.publish_tracked(
            PriceUpdated(symbol=s, price=p, as_of=now) for s, p in INITIAL_PRICES.items()
        )
    await wait_until_consumed(bootstrap, "optimizer", ends, timeout=120)


async def deposit(bootstrap: str, portfolio_id: str, amount: Decimal) -> None:
    """As a client on Kafka would, after the api's subscription is on the topic: the api
    publishes through its outbox, a moment after it answered."""
    async with TopicReader(bootstrap, "portfolio.patched") as patched:
        await patched.wait_for(
            lambda events: any(
                isinstance(e, PortfolioSettingsChanged) and e.portfolio_id == portfolio_id
                for e in events
            ),
            timeout=60,
        )
    async with Publisher(bootstrap) as publisher:
        await publisher.publish(
            CashDeposited(
                portfolio_id=portfolio_id, amount=amount, deposit_id=f"dep-{portfolio_id}"
            )
        )


def settled(stack: Stack, run_id: uuid.UUID) -> bool:
    """rebal's `settled_at` on the run (its extension field): the account may run again."""
    auth = (stack.api_key, stack.api_secret)
    body = httpx.get(f"{stack.api_url}/v1/rebalancing/runs/{run_id}", auth=auth).json()
    return body.get("settled_at") is not None


def test_alpaca_sdk_over_the_stack(stack: Stack) -> None:
    bootstrap = stack.kafka.bootstrap_servers
    asyncio.run(publish_prices(bootstrap))
    client = BrokerClient(
        stack.api_key, stack.api_secret, sandbox=False, url_override=stack.api_url
    )
    account = str(uuid.uuid4())

    portfolio = client.create_portfolio(
        CreatePortfolioRequest(
            name="Balanced",
            description="SPY, TLT and cash",
            weights=[
                Weight(type=WeightType.ASSET, symbol="SPY", percent=60),
                Weight(type=WeightType.ASSET, symbol="TLT", percent=35),
                Weight(type=WeightType.CASH, percent=5),
            ],
            cooldown_days=0,
            rebalance_conditions=[
                RebalancingConditions(type="drift_band", sub_type="absolute", percent=5)
            ],
        )
    )
    assert portfolio.status is PortfolioStatus.ACTIVE
    subscription = client.create_subscription(
        CreateSubscriptionRequest(account_id=account, portfolio_id=portfolio.id)
    )
    assert str(subscription.account_id) == account

    # the account's rebal portfolio is its own UUID (services/api/README.md)
    asyncio.run(deposit(bootstrap, account, Decimal("10000.00")))

    def completed() -> RebalancingRun | None:
        runs = client.get_all_runs(GetRunsRequest(account_id=account))
        done = [r for r in runs if r.status in FINAL and r.orders]
        return done[0] if done else None

    run = eventually(completed, "completed run", stack)
    assert run.status is RunStatus.COMPLETED_SUCCESS, run
    assert run.portfolio_id == portfolio.id and str(run.account_id) == account
    assert {o.symbol for o in run.orders or ()} == {"SPY", "TLT"}
    assert all(o.status.value == "filled" for o in run.orders or ())
    by_id = client.get_run_by_id(run.id)
    assert isinstance(by_id, RebalancingRun) and by_id.orders == run.orders

    with pytest.raises(APIError) as in_use:
        client.inactivate_portfolio_by_id(portfolio.id)
    assert in_use.value.status_code == 422
    client.unsubscribe_account(subscription.id)
    client.inactivate_portfolio_by_id(portfolio.id)
    assert client.get_portfolio_by_id(portfolio.id).status is PortfolioStatus.INACTIVE

    # a manual run with its own weights, once rebal has settled the first run
    eventually(lambda: True if settled(stack, run.id) else None, "settled first run", stack)
    manual = client.create_manual_run(
        CreateRunRequest(
            account_id=account,
            type=RunType.FULL_REBALANCE,
            weights=[
                Weight(type=WeightType.ASSET, symbol="SPY", percent=50),
                Weight(type=WeightType.CASH, percent=50),
            ],
        )
    )
    assert manual.status is RunStatus.QUEUED and str(manual.account_id) == account

    def manual_done() -> RebalancingRun | None:
        got = client.get_run_by_id(manual.id)
        return got if got.status in FINAL else None

    done = eventually(manual_done, "completed manual run", stack)
    assert done.id == manual.id and done.status is RunStatus.COMPLETED_SUCCESS, done
    sides = {(o.symbol, o.side.value if o.side else None) for o in done.orders or ()}
    assert ("TLT", "sell") in sides, sides  # the run's own weights hold no TLT
    assert [r.id for r in client.get_all_runs(GetRunsRequest(account_id=account))] == [
        manual.id,
        run.id,
    ]  # newest first

    with pytest.raises(APIError) as final:
        client.cancel_run_by_id(manual.id)
    assert final.value.status_code == 422
