"""Bad input goes to dead.letter with the reason, and the next valid event is still processed
(over a fresh embedded Kafka, so the dead letters counted are this test's only)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from decimal import Decimal as D
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaProducer  # type: ignore[import-untyped]

from rebal_optimizer.bootstrap import bootstrap
from rebal_runtime.calendar import always_open
from rebal_runtime.clock import FakeClock
from rebal_runtime.embedded import EmbeddedKafka
from rebal_runtime.testing.kafka import TopicReader
from rebal_runtime.topics_admin import ensure_topics
from rebal_schemas import (
    CashDeposited,
    HoldingsReported,
    MessageDeadLettered,
    ModelUpdated,
    OptimizationCreated,
    OptimizationDecided,
    PortfolioSettingsChanged,
    PriceUpdated,
    RebalanceRequested,
    encode,
)

from .conftest import Harness, optimizer_settings, weights

pytestmark = pytest.mark.kafka


def tampered(event: object, **changes: object) -> bytes:
    data = orjson.loads(encode(event))  # type: ignore[arg-type]
    data.update(changes)
    return orjson.dumps(data)


async def test_bad_input_is_dead_lettered_with_its_reason_and_the_rest_flows(
    fresh_kafka: EmbeddedKafka, tmp_path: Path
) -> None:
    servers = fresh_kafka.bootstrap_servers
    await ensure_topics(servers)
    optimizer = bootstrap(
        optimizer_settings(servers, tmp_path),
        calendar=always_open(),
        clock=FakeClock(datetime.now(UTC)),
    )
    producer = AIOKafkaProducer(bootstrap_servers=servers, acks="all")
    await producer.start()
    try:
        async with (
            optimizer.runtime.running(),
            TopicReader(servers, "dead.letter") as dead,
            TopicReader(servers, "optimization.created") as created,
            TopicReader(servers, "request.rejected") as rejected,
        ):
            h = Harness(optimizer, producer, created, created, created)
            now = h.clock.now()
            good_model = ModelUpdated(
                model_id="m1", name="m1", weights=weights(SPY="60", TLT="35", cash="5")
            )
            bad_weights = weights(SPY="60", TLT="30")
            known = PortfolioSettingsChanged(portfolio_id="p-known", model_id="m1")
            await h.send(known)
            await h.processed("portfolios", "p-known", known.event_id)

            # -- bad input, one of each kind ---------------------------------------------------
            await h.send_raw(
                "model.updated",
                tampered(good_model, weights=[w.model_dump(mode="json") for w in bad_weights]),
                b"m1",
            )
            await h.send_raw(
                "portfolio.patched",
                tampered(CashDeposited(portfolio_id="p1", amount=D(5)), amount="-5"),
                b"p1",
            )
            await h.send_raw("portfolio.patched", b'{"event_type": "portfolio.cash_dep', b"p1")
            await h.send(HoldingsReported(portfolio_id="p-ghost", cash=D(1), as_of=now))
            await h.send(RebalanceRequested(scope="model", model_id="m-ghost", reason="manual"))
            # a choice on an optimization the portfolio does not await: refused, not poison
            ghost_choice = OptimizationDecided(
                portfolio_id="p-known", optimization_id="O-ghost", owner_choice="ACCEPT"
            )
            await h.send(ghost_choice)
            # accepted, not dead-lettered: the model may simply not have been read yet
            pending = PortfolioSettingsChanged(portfolio_id="p-pending", model_id="m-later")
            await h.send(pending)

            # -- valid input behind it, on the same partitions ----------------------------------
            prices = [
                PriceUpdated(symbol="SPY", price=D(100), as_of=now),
                PriceUpdated(symbol="TLT", price=D(50), as_of=now),
            ]
            await h.send(*prices, good_model)
            # topics have no order between them: p1 is funded once prices and model are known
            for price in prices:
                await h.processed("prices", price.symbol, price.event_id)
            await h.processed("models", "m1", good_model.event_id)
            await h.send(
                PortfolioSettingsChanged(portfolio_id="p1", model_id="m1"),
                HoldingsReported(portfolio_id="p1", cash=D(10000), as_of=now),
            )
            # (the model's own fan-out may reach p1 too: answered, BLOCKED, once p1 is funded)
            (opt,) = await h.output(
                created,
                lambda e: (
                    isinstance(e, OptimizationCreated)
                    and e.portfolio_id == "p1"
                    and e.is_recommended
                ),
            )
            assert opt.status == "READY"
            assert [(o.symbol, o.qty) for o in opt.orders] == [("SPY", D(60)), ("TLT", D(70))]

            letters = await dead.wait_for(lambda evs: len(evs) >= 5)
            await dead.settle(1.0)
            letters = dead.events()
            assert len(letters) == 5
            assert all(isinstance(e, MessageDeadLettered) for e in letters)
            by_reason = {(e.original_topic, e.error_type): e.reason for e in letters}  # type: ignore[union-attr]
            assert (
                "weights must sum to exactly 100" in by_reason[("model.updated", "SchemaViolation")]
            )
            patched = [e for e in letters if e.original_topic == "portfolio.patched"]  # type: ignore[union-attr]
            reasons = " | ".join(e.reason for e in patched)  # type: ignore[union-attr]
            assert "must be greater than 0" in reasons
            assert "not valid JSON" in reasons
            assert "unknown portfolio 'p-ghost'" in reasons
            assert "unknown model 'm-ghost'" in by_reason[("rebalance.requested", "PoisonMessage")]
            answers = await rejected.wait_for(
                lambda evs: any(e.causation_id == ghost_choice.event_id for e in evs)
            )
            (refusal,) = [e for e in answers if e.causation_id == ghost_choice.event_id]
            assert refusal.reason_code == "OPTIMIZATION_UNKNOWN"  # type: ignore[union-attr]
            malformed = next(e for e in patched if "not valid JSON" in e.reason)  # type: ignore[union-attr]
            assert base64.b64decode(malformed.original_value_b64).startswith(b'{"event_type"')  # type: ignore[union-attr]
            assert await h.record("p-pending") is not None
    finally:
        await producer.stop()
