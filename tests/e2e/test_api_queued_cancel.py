"""Alpaca's SDK cancels a QUEUED run through the api, over the whole embedded stack: the
order-router lives at night on New York's calendar (its clock started hours before a 09:30
opening), so a manual run created with `create_manual_run` waits QUEUED for the window;
`cancel_run_by_id` ends it CANCELED and no order ever reaches the broker.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest
from alpaca.broker.client import BrokerClient
from alpaca.broker.enums import RunStatus, RunType, WeightType
from alpaca.broker.models.rebalancing import RebalancingRun
from alpaca.broker.requests import CreateRunRequest, Weight
from alpaca.common.exceptions import APIError

from rebal_client.kafka import Publisher
from rebal_runtime.calendar import NEW_YORK
from rebal_runtime.stack import Stack
from rebal_runtime.testing.kafka import TopicReader
from rebal_schemas import (
    CashDeposited,
    RunExecutionQueued,
)

from .broker_helpers import (
    broker_orders,
    eventually,
    night_router,
    platform_account,
    publish_consumed,
)
from .conftest import logs, running_stack

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Stack]:
    with running_stack(
        tmp_path_factory,
        request,
        "queued",
        service_overrides=night_router(),
    ) as running:
        yield running


def test_cancel_run_by_id_cancels_a_queued_run(stack: Stack) -> None:
    bootstrap = stack.kafka.bootstrap_servers
    account = str(uuid.uuid4())  # the account's rebal portfolio is its own UUID
    asyncio.run(publish_consumed(bootstrap, *platform_account(account)))

    async def fund() -> None:
        async with Publisher(bootstrap) as publisher:
            await publisher.publish(
                CashDeposited(portfolio_id=account, amount=Decimal("10000.00"), deposit_id=account)
            )

    asyncio.run(fund())
    client = BrokerClient(
        stack.api_key, stack.api_secret, sandbox=False, url_override=stack.api_url
    )

    last_refusal: list[str] = []

    def create() -> RebalancingRun | None:
        try:
            return client.create_manual_run(
                CreateRunRequest(
                    account_id=account,
                    type=RunType.FULL_REBALANCE,
                    weights=[
                        Weight(type=WeightType.ASSET, symbol="SPY", percent=60),
                        Weight(type=WeightType.CASH, percent=40),
                    ],
                )
            )
        except APIError as refused:  # 404/422 until the api has read the account's funding
            if refused.status_code not in (404, 422):
                raise
            last_refusal[:] = [str(refused)]
            return None

    try:
        manual = eventually(create, "manual run accepted", stack, timeout=30)
    except AssertionError:
        raise AssertionError(last_refusal) from None
    assert manual.status is RunStatus.QUEUED

    async def queued_by_the_router() -> RunExecutionQueued:
        async with TopicReader(bootstrap, RunExecutionQueued.TOPIC) as execution:
            events = await execution.wait_for(
                lambda evs: any(isinstance(e, RunExecutionQueued) for e in evs), timeout=120
            )
        (queued,) = [e for e in events if isinstance(e, RunExecutionQueued)]
        return queued

    try:
        queued = asyncio.run(queued_by_the_router())
    except TimeoutError:
        raise AssertionError(logs(stack)) from None
    opening = queued.starts_at.astimezone(NEW_YORK)
    assert (opening.hour, opening.minute) == (9, 30)  # waits for the window's opening
    assert client.get_run_by_id(manual.id).status is RunStatus.QUEUED
    client.cancel_run_by_id(manual.id)

    def canceled() -> RebalancingRun | None:
        run = client.get_run_by_id(manual.id)
        return run if run.status is RunStatus.CANCELED else None

    done = eventually(canceled, "canceled run", stack)
    assert done.canceled_at is not None
    planned = [*(done.orders or ()), *(done.failed_orders or ())]
    assert planned
    assert {(o.status.value, Decimal(o.filled_qty or 0)) for o in planned} == {("canceled", 0)}
    assert broker_orders(stack) == {}  # nothing ever left for the broker
    with pytest.raises(APIError) as final:  # canceled is final: a second cancel is refused
        client.cancel_run_by_id(manual.id)
    assert final.value.status_code == 422
