"""Alpaca's own SDK (alpaca-py 0.44, `BrokerClient` with `url_override`) against the api over
the in-memory store, with no workaround: every call parses, every refusal is its APIError."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Coroutine, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import uvicorn
from alpaca.broker.client import BrokerClient
from alpaca.broker.enums import PortfolioStatus, RunStatus, RunType, WeightType
from alpaca.broker.models.rebalancing import RebalancingRun
from alpaca.broker.requests import (
    CreatePortfolioRequest,
    CreateRunRequest,
    CreateSubscriptionRequest,
    GetPortfoliosRequest,
    GetRunsRequest,
    GetSubscriptionsRequest,
    RebalancingConditions,
    UpdatePortfolioRequest,
    Weight,
)
from alpaca.common.exceptions import APIError

from rebal_api.bootstrap import Api, bootstrap
from rebal_api.settings import ApiSettings
from rebal_runtime.store import InMemoryStore
from rebal_schemas import TOPICS, RunCancelRequested, RunInitiator
from rebal_schemas import RunType as RebalRunType

from . import rebal_events as rebal

ACCOUNTS = [f"8d3c2b1a-0000-4000-8000-00000000000{i}" for i in range(3)]


class Served:
    """The api on a free port, in a thread with its own event loop."""

    def __init__(self) -> None:
        self.store = InMemoryStore()
        self.api: Api = bootstrap(ApiSettings(api_key="AK", api_secret="SK"), store=self.store)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.api.http_app(), log_level="warning", lifespan="off", ws="none")
        self.server = uvicorn.Server(config)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=lambda: self.loop.run_until_complete(self.server.serve(sockets=[sock])),
            daemon=True,
        )

    def __enter__(self) -> Served:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)

    def run(self, work: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(10)

    def consume(self, *events: Any) -> None:
        self.run(self.api.projector.project(list(events)))

    def published(self, topic: str) -> list[Any]:
        return [
            TOPICS[topic].adapter.validate_json(p.message.value)
            for p in self.store._outbox
            if p.message.topic == topic
        ]


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    with Served() as running:
        yield running


@pytest.fixture(scope="module")
def client(served: Served) -> BrokerClient:
    return BrokerClient("AK", "SK", sandbox=False, url_override=f"http://127.0.0.1:{served.port}")


def weights(**percent: float) -> list[Weight]:
    return [
        Weight(type=WeightType.CASH, percent=p)
        if s == "cash"
        else Weight(type=WeightType.ASSET, symbol=s, percent=p)
        for s, p in percent.items()
    ]


def test_the_sdk_speaks_to_the_api(served: Served, client: BrokerClient) -> None:
    portfolio = client.create_portfolio(
        CreatePortfolioRequest(
            name="Balanced",
            description="60/40",
            weights=weights(SPY=60, TLT=35, cash=5),
            cooldown_days=7,
            rebalance_conditions=[
                RebalancingConditions(type="drift_band", sub_type="absolute", percent=5)
            ],
        )
    )
    assert portfolio.status is PortfolioStatus.ACTIVE and portfolio.cooldown_days == 7
    assert [w.percent for w in portfolio.weights] == [60, 35, 5]
    listed = client.get_all_portfolios(
        GetPortfoliosRequest(symbol="SPY", status=PortfolioStatus.ACTIVE)
    )
    assert [p.id for p in listed] == [portfolio.id]
    assert client.get_portfolio_by_id(portfolio.id).name == "Balanced"
    updated = client.update_portfolio_by_id(
        portfolio.id, UpdatePortfolioRequest(description="sixty-forty")
    )
    assert updated.description == "sixty-forty" and updated.name == "Balanced"

    subs = [
        client.create_subscription(
            CreateSubscriptionRequest(account_id=a, portfolio_id=portfolio.id)
        )
        for a in ACCOUNTS
    ]
    assert str(subs[0].account_id) == ACCOUNTS[0] and subs[0].portfolio_id == portfolio.id
    every = client.get_all_subscriptions(GetSubscriptionsRequest(limit=2))  # three pages of the api
    assert [s.id for s in every] == [s.id for s in subs]
    assert client.get_subscription_by_id(subs[1].id).account_id == subs[1].account_id
    with pytest.raises(APIError) as refused:
        client.create_subscription(
            CreateSubscriptionRequest(account_id=ACCOUNTS[0], portfolio_id=portfolio.id)
        )
    assert refused.value.status_code == 422 and refused.value.code == 42210000

    with pytest.raises(APIError) as in_use:
        client.inactivate_portfolio_by_id(portfolio.id)
    assert in_use.value.status_code == 422

    # rebal runs: a deposit's invest_cash, a withdrawal, a dashboard run, all on account 0
    start = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    account = ACCOUNTS[0]
    for run_id, run_type, initiated in (
        ("OCASH", RebalRunType.invest_cash, RunInitiator.system),
        ("OWITHDRAW", RebalRunType.withdrawal, RunInitiator.system),
        ("ODASH", RebalRunType.full_rebalance, RunInitiator.dashboard),
    ):
        args = (run_id, account, account, start)
        served.consume(
            rebal.ready(*args, run_type=run_type, initiated=initiated),
            rebal.completed(*args, run_type=run_type, initiated=initiated),
        )
    runs = client.get_all_runs()
    assert sorted(r.type for r in runs) == [RunType.FULL_REBALANCE, RunType.INVEST_CASH]
    dashboard = next(r for r in runs if r.type is RunType.FULL_REBALANCE)
    assert dashboard.initiated_from is None
    cash = client.get_all_runs(GetRunsRequest(account_id=account, type=RunType.INVEST_CASH))
    [run] = cash
    assert run.status is RunStatus.COMPLETED_SUCCESS and str(run.account_id) == account
    assert run.orders is not None and run.orders[0].symbol == "SPY"
    assert run.orders[0].filled_qty == "1.2"
    by_id = client.get_run_by_id(run.id)
    assert isinstance(by_id, RebalancingRun) and by_id.orders == run.orders
    with pytest.raises(APIError) as final:
        client.cancel_run_by_id(run.id)
    assert final.value.status_code == 422

    for sub in subs:
        client.unsubscribe_account(sub.id)
    assert client.get_all_subscriptions() == []
    client.inactivate_portfolio_by_id(portfolio.id)
    assert client.get_portfolio_by_id(portfolio.id).status is PortfolioStatus.INACTIVE

    manual = client.create_manual_run(
        CreateRunRequest(
            account_id=ACCOUNTS[1], type=RunType.FULL_REBALANCE, weights=weights(SPY=50, cash=50)
        )
    )
    assert manual.status is RunStatus.QUEUED and manual.initiated_from is not None
    with pytest.raises(APIError) as busy:
        client.create_manual_run(
            CreateRunRequest(
                account_id=ACCOUNTS[1], type=RunType.FULL_REBALANCE, weights=weights(cash=100)
            )
        )
    assert busy.value.status_code == 422
    [request] = served.published("rebalance.requested")
    args = ("OMANUAL", ACCOUNTS[1], ACCOUNTS[1], start)
    api = RunInitiator.api
    served.consume(
        rebal.ready(
            *args, cause=request.event_id, initiated=api, run_type=RebalRunType.full_rebalance
        )
    )
    queued = client.get_run_by_id(manual.id)
    assert queued.status is RunStatus.QUEUED
    client.cancel_run_by_id(manual.id)  # rebal's run is QUEUED: the api asks rebal to cancel it
    [cancel] = served.published("run.cancel_requested")
    assert isinstance(cancel, RunCancelRequested) and cancel.run_id == "OMANUAL"
