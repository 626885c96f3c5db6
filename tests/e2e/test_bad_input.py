"""Bad input over the whole stack: every bad message lands in dead.letter with its reason, every
service keeps running, and a good portfolio published between the bad ones completes its run."""

from __future__ import annotations

import asyncio
import base64
import json
from decimal import Decimal

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from rebal_client.kafka import Publisher, wait_until_consumed
from rebal_runtime.stack import Stack
from rebal_runtime.testing.kafka import TopicReader
from rebal_runtime.topics_admin import ensure_topics
from rebal_schemas import (
    BrokerIntegration,
    CashDeposited,
    Mandate,
    ModelUpdated,
    OptimizerMode,
    PortfolioSettingsChanged,
    PriceUpdated,
    RunCompleted,
    Weight,
    encode,
    key_of,
)
from rebal_schemas.types import utc_now

from .conftest import logs

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

BAD: list[tuple[str, str, bytes, str]] = [
    # (name, topic, value, expected fragment of the dead-letter reason)
    (
        "malformed json",
        "portfolio.patched",
        b'{"event_type": "portfolio.cash_deposited", ',
        "not valid JSON",
    ),
    ("not an object", "model.updated", b"[1, 2, 3]", "expected a JSON object"),
    (
        "weights not 100",
        "model.updated",
        json.dumps(
            {
                "event_type": "model.updated",
                "schema_version": 2,
                "model_id": "bad-model",
                "name": "Bad",
                "weights": [
                    {"type": "asset", "symbol": "SPY", "percent": "60"},
                    {"type": "asset", "symbol": "TLT", "percent": "30"},
                ],
            }
        ).encode(),
        "sum to exactly 100",
    ),
    (
        "negative deposit",
        "portfolio.patched",
        json.dumps(
            {"event_type": "portfolio.cash_deposited", "portfolio_id": "bad-neg", "amount": "-100"}
        ).encode(),
        "greater than 0",
    ),
    (
        "absurd deposit",
        "portfolio.patched",
        json.dumps(
            {"event_type": "portfolio.cash_deposited", "portfolio_id": "bad-abs", "amount": "1e40"}
        ).encode(),
        "exponent notation is not accepted",
    ),
    (
        "float money",
        "portfolio.patched",
        json.dumps(
            {"event_type": "portfolio.cash_deposited", "portfolio_id": "bad-float", "amount": 12.5}
        ).encode(),
        "must be JSON strings",
    ),
    (
        "unknown portfolio",
        "portfolio.patched",
        encode(CashDeposited(portfolio_id="never-created", amount=Decimal("10"))),
        "never-created",
    ),
    # (A subscription to a model not seen yet is accepted and waits for the model: the two topics
    # have no order between them. A rebalance of an unknown model can never be done.)
    (
        "unknown model",
        "rebalance.requested",
        json.dumps(
            {
                "event_type": "rebalance.requested",
                "scope": "model",
                "model_id": "no-such-model",
                "reason": "manual",
            }
        ).encode(),
        "no-such-model",
    ),
    (
        "unknown optimization",
        "optimization.decided",
        json.dumps(
            {
                "event_type": "optimization.decided",
                "optimization_id": "O-missing",
                "portfolio_id": "bad-dec",
                "owner_choice": "ACCEPT",
            }
        ).encode(),
        "unknown portfolio",
    ),
    (
        "key is not the portfolio",
        "portfolio.patched",
        json.dumps(
            {"event_type": "portfolio.cash_deposited", "portfolio_id": "bad-key", "amount": "5"}
        ).encode(),
        "does not match portfolio_id 'bad-key'",
    ),
    (
        "fill without a run plan field",
        "order.filled",
        json.dumps(
            {"event_type": "order.filled", "run_id": "r", "portfolio_id": "p", "leg": 0}
        ).encode(),
        "field required",
    ),
    ("oversized", "portfolio.patched", b'{"pad":"' + b"x" * 1_100_000 + b'"}', "exceeds"),
]


# The Kafka key a client gives each message: the event's own key where it has one (so the rule
# under test is reached), another one where the test is about the key itself.
WRONG_KEYS = {"key is not the portfolio": b"someone-else"}
KEY_FIELDS = {"model.updated": "model_id", "market.prices": "symbol"}


def client_key(name: str, topic: str, value: bytes, index: int) -> bytes:
    if name in WRONG_KEYS:
        return WRONG_KEYS[name]
    try:
        data = json.loads(value)
    except ValueError:
        data = None
    if isinstance(data, dict):
        key = data.get(KEY_FIELDS.get(topic, "portfolio_id"))
        if key is None and topic == "rebalance.requested":
            key = data.get("model_id")
        if isinstance(key, str):
            return key.encode()
    return f"bad-{index}".encode()


def kept(value: bytes) -> bytes:
    """What a dead letter keeps of the original value (the first 256 kB)."""
    return value[:256_000]


def test_bad_input_is_dead_lettered_and_good_work_completes(stack: Stack) -> None:
    bootstrap = stack.kafka.bootstrap_servers
    expected = {kept(value) for _, _, value, _ in BAD}

    async def scenario() -> tuple[list, list]:  # type: ignore[type-arg]
        await ensure_topics(bootstrap)
        good = "good-pf-1"
        model = ModelUpdated(
            model_id="good-model",
            name="Good",
            weights=(
                Weight(type="cash", percent=Decimal("5")),
                Weight(type="asset", symbol="SPY", percent=Decimal("95")),
            ),
        )
        # The price feed and the model come first, as in production: confirmed read by the
        # optimizer before the portfolio that needs them is published on another topic.
        async with Publisher(bootstrap) as publisher:
            reference = await publisher.publish_tracked(
                [PriceUpdated(symbol="SPY", price=Decimal("500"), as_of=utc_now()), model]
            )
        await wait_until_consumed(bootstrap, "optimizer", reference, timeout=120)
        # The broker quotes SPY too before the good portfolio's order reaches it (the simulator
        # reads market.prices on its own; a symbol it has no price for is rejected).
        async with httpx.AsyncClient(timeout=30) as http:
            answer = await http.post(
                f"http://127.0.0.1:{stack.simulator_port}/admin/prices",
                json={"prices": [{"symbol": "SPY", "price": "500"}]},
                headers=stack.simulator_admin_headers(),
            )
            answer.raise_for_status()
        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, acks="all", max_request_size=4_000_000
        )
        await producer.start()
        try:
            for index, (name, topic, value, _) in enumerate(BAD):
                key = client_key(name, topic, value, index)
                await producer.send_and_wait(topic, value, key=key)
                if index == 4:  # good work in the middle of the bad
                    settings = PortfolioSettingsChanged(
                        portfolio_id=good,
                        mandate=Mandate.DISCRETIONARY,
                        broker_integration=BrokerIntegration.PLATFORM,
                        optimizer=OptimizerMode.PLATFORM,
                        model_id="good-model",
                    )
                    deposit = CashDeposited(portfolio_id=good, amount=Decimal("10000"))
                    for event in (settings, deposit):
                        await producer.send_and_wait(event.TOPIC, encode(event), key=key_of(event))
        finally:
            await producer.stop()
        async with (
            TopicReader(bootstrap, "dead.letter") as dlq,
            TopicReader(bootstrap, "run.completed") as done,
        ):
            completed = await done.wait_for(
                lambda evs: any(
                    isinstance(e, RunCompleted) and e.portfolio_id == good for e in evs
                ),
                timeout=240,
            )
            # Each bad message's own letter, by its value: some are consumed by several groups
            # (a bad model by the optimizer and the scheduler), so a count proves nothing.
            letters = await dlq.wait_for(
                lambda evs: expected <= {base64.b64decode(e.original_value_b64) for e in evs},
                timeout=240,
            )
            return letters, completed

    letters, completed = asyncio.run(scenario())
    assert next(e for e in completed if e.portfolio_id == "good-pf-1").status.value.startswith(
        "COMPLETED"
    ), logs(stack)
    by_value = {base64.b64decode(e.original_value_b64): e for e in letters}
    for name, topic, value, fragment in BAD:
        assert kept(value) in by_value, f"{name}: not dead-lettered\n{logs(stack)}"
        letter = by_value[kept(value)]
        assert letter.original_topic == topic
        assert fragment.lower() in letter.reason.lower(), f"{name}: {letter.reason}"
    for process in stack.processes:
        assert process.alive, f"{process.name} died\n{logs(stack)}"
