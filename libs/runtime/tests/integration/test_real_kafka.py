"""The same delivery guarantees on a real Apache Kafka (KRaft, started by the project from the Maven
Central jars: `make kafka-jars`), with the idempotent producer on as in production."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest

from rebal_runtime.apache_kafka import ApacheKafka
from rebal_runtime.testing.kafka import TopicReader
from rebal_runtime.testing.pytest_plugin import settings_for, unique
from rebal_runtime.topics_admin import ensure_topics
from rebal_schemas import CashDeposited, MessageDeadLettered, encode

from .ledger_service import Ledger
from .test_delivery_guarantees import produce

pytestmark = [pytest.mark.kafka, pytest.mark.apache_kafka]


async def test_handled_once_duplicates_dropped_poison_dead_lettered_on_apache_kafka(
    apache_kafka: ApacheKafka, tmp_path: Path
) -> None:
    bootstrap = apache_kafka.bootstrap_servers
    await ensure_topics(bootstrap)
    ledger = Ledger(settings_for(bootstrap, tmp_path, "ledger", kafka_idempotent_producer=True))
    portfolio = unique("p")
    first = CashDeposited(portfolio_id=portfolio, amount=Decimal("5"))
    async with ledger.runtime.running(), TopicReader(bootstrap, "dead.letter") as dlq:
        raw = encode(first)
        await produce(bootstrap, "portfolio.patched", raw, b"{oops", raw, key=portfolio.encode())
        for _ in range(600):
            if (await ledger.total(portfolio))[1] >= 1 and ledger.runtime.consume.handled >= 2:
                break
            await asyncio.sleep(0.05)
        letters = await dlq.wait_for(
            lambda evs: any(isinstance(e, MessageDeadLettered) and e.key == portfolio for e in evs)
        )
        assert await ledger.total(portfolio) == (Decimal("5"), 1)
    assert [e.error_type for e in letters if e.key == portfolio] == ["MalformedMessage"]
