"""The api over the in-memory store: no Kafka; what it publishes is read from the outbox, what
rebal's services would publish is handed to its projector (`Harness.consume`)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from rebal_api.bootstrap import Api, bootstrap
from rebal_api.settings import ApiSettings
from rebal_runtime.clock import FakeClock
from rebal_runtime.store import InMemoryStore
from rebal_schemas import TOPICS, Event

KEY, SECRET = "test-key", "test-secret"
AUTH = {"Authorization": "Basic " + base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()}
ACCOUNT = "5b7a5f3e-3c1d-4b8e-9a52-0c8f1d2e3a4b"
OTHER_ACCOUNT = "0f6e2a1c-9d8b-4c7a-8e5f-1a2b3c4d5e6f"
START = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def weights(**percent: Any) -> list[dict[str, Any]]:
    return [
        {"type": "cash", "percent": p}
        if s == "cash"
        else {"type": "asset", "symbol": s, "percent": p}
        for s, p in percent.items()
    ]


MODEL = {
    "name": "Balanced",
    "description": "60/40",
    "weights": weights(SPY=60.0, TLT="35", cash=5),
    "cooldown_days": 7,
    "rebalance_conditions": [{"type": "drift_band", "sub_type": "absolute", "percent": 5.0}],
}


@dataclass
class Harness:
    api: Api
    store: InMemoryStore
    clock: FakeClock
    http: httpx.AsyncClient

    def published(self, topic: str | None = None) -> list[Event]:
        """What the api put in its outbox (what its relay publishes), in commit order."""
        found = []
        for pending in self.store._outbox:
            message = pending.message
            if topic is None or message.topic == topic:
                found.append(TOPICS[message.topic].adapter.validate_json(message.value))
        return found

    async def consume(self, *events: Event) -> None:
        """As the api's consumer would, from Kafka."""
        await self.api.projector.project(list(events))

    async def portfolio(self, body: dict[str, Any] | None = None) -> dict[str, Any]:
        answer = await self.http.post("/v1/rebalancing/portfolios", json=body or MODEL)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    async def subscribe(self, model_uuid: str, account: str = ACCOUNT) -> dict[str, Any]:
        answer = await self.http.post(
            "/v1/rebalancing/subscriptions",
            json={"account_id": account, "portfolio_id": model_uuid},
        )
        assert answer.status_code == 200, answer.text
        return dict(answer.json())


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    store = InMemoryStore()
    clock = FakeClock(START)
    api = bootstrap(ApiSettings(api_key=KEY, api_secret=SECRET), store=store, clock=clock)
    transport = httpx.ASGITransport(app=api.http_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://api", headers=AUTH) as http:
        yield Harness(api, store, clock, http)
