"""Refusals over the real embedded Kafka: a request a rule holds is answered on request.rejected
(once, however often it is delivered), and model governance on model.status_changed."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from rebal_runtime.testing.kafka import TopicReader
from rebal_schemas import (
    HoldingsReported,
    ModelStatusChanged,
    ModelUpdated,
    OptimizationCreated,
    PortfolioSettingsChanged,
    PriceUpdated,
    RebalanceRequested,
    RequestRejected,
)

from .conftest import Harness, unique, weights

pytestmark = pytest.mark.kafka


async def subscribed(h: Harness) -> tuple[str, str, str]:
    """A funded advisory portfolio following a new model on two new symbols (its first
    optimization waits for the owner: the portfolio is not blocked)."""
    u = unique()
    pid, mid, a, b = f"p-{u}", f"m-{u}", f"A{u}", f"B{u}"
    now = h.clock.now()
    model = ModelUpdated(model_id=mid, name=mid, weights=weights(**{a: "60", b: "40"}))
    prices = [PriceUpdated(symbol=s, price=D(50), as_of=now) for s in (a, b)]
    await h.send(*prices, model)
    for price in prices:
        await h.processed("prices", price.symbol, price.event_id)
    await h.processed("models", mid, model.event_id)
    funding = HoldingsReported(portfolio_id=pid, cash=D(1000), as_of=now)
    settings = PortfolioSettingsChanged(portfolio_id=pid, model_id=mid, mandate="ADVISORY")
    await h.send(settings, funding)
    await h.processed("portfolios", pid, funding.event_id)
    return pid, mid, a


async def test_a_manual_run_with_own_weights_while_subscribed_is_refused_once(
    harness: Harness,
) -> None:
    h = harness
    pid, _, a = await subscribed(h)
    request = RebalanceRequested(
        scope="portfolio",
        portfolio_id=pid,
        reason="manual",
        initiated_from="api",
        weights=weights(**{a: "100"}),
    )
    async with TopicReader(h.optimizer.settings.kafka.bootstrap_servers, "request.rejected") as rr:
        await h.send(request, request)  # delivered twice
        (refusal,) = await h.output(rr, lambda e: e.causation_id == request.event_id)
        assert isinstance(refusal, RequestRejected)
        assert refusal.reason_code == "OWN_WEIGHTS_WHILE_SUBSCRIBED" and refusal.portfolio_id == pid
        assert refusal.request_event_type == "rebalance.requested"
        # the decision record names the refusal as its cause: the request has one answer
        (record,) = await h.output(h.created, lambda e: e.causation_id == refusal.event_id)
        assert isinstance(record, OptimizationCreated) and record.status == "NOT_RECOMMENDED"
        await rr.settle(1.0)
        assert [e.event_id for e in rr.events() if e.causation_id == request.event_id] == [
            refusal.event_id
        ]


async def test_deactivating_a_model_in_use_is_refused_and_it_stays_active(
    harness: Harness,
) -> None:
    h = harness
    _, mid, a = await subscribed(h)
    servers = h.optimizer.settings.kafka.bootstrap_servers
    retire = ModelUpdated(
        model_id=mid, name=mid, status="inactive", weights=weights(**{a: "60", "cash": "40"})
    )
    async with (
        TopicReader(servers, "request.rejected") as rr,
        TopicReader(servers, "model.status_changed") as status,
    ):
        await h.send(retire)
        (refusal,) = await h.output(rr, lambda e: e.causation_id == retire.event_id)
        assert refusal.reason_code == "MODEL_IN_USE" and refusal.model_id == mid
        stored = await h.optimizer.runtime.store.load("models", mid)
        assert stored is not None and stored.state["status"] == "active"
        assert len(stored.state["weights"]) == 2  # as it was, not the refused change
        await status.settle(0.5)
        assert not [
            e for e in status.events() if isinstance(e, ModelStatusChanged) and e.model_id == mid
        ]
