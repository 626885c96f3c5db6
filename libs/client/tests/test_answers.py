"""The CLI's `--wait`: the answer to a request is the event that names it in `causation_id`,
read from where the answer topics ended before the request was published (real broker)."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer

from rebal_client.answers import publish_and_wait
from rebal_client.kafka import Publisher
from rebal_runtime.kafka_launchers import KafkaLauncher
from rebal_runtime.testing.pytest_plugin import unique
from rebal_runtime.topics_admin import ensure_topics
from rebal_schemas import (
    RebalanceRequested,
    RejectionCode,
    RequestRejected,
    decode,
)

pytestmark = pytest.mark.kafka


def manual_run(portfolio: str) -> RebalanceRequested:
    return RebalanceRequested(
        scope="portfolio", portfolio_id=portfolio, reason="manual", producer="test"
    )


def refusal_of(request: RebalanceRequested, cause: str) -> RequestRejected:
    return RequestRejected(
        reason_code=RejectionCode.OWN_WEIGHTS_WHILE_SUBSCRIBED,
        message="follows a model",
        request_event_type=request.event_type,
        portfolio_id=request.portfolio_id,
        causation_id=cause,
        producer="test-optimizer",
    )


async def refuse_each_request(bootstrap: str, portfolio: str) -> None:
    """A stand-in optimizer: first an answer to someone else's request, then the real one."""
    consumer = AIOKafkaConsumer(
        "rebalance.requested", bootstrap_servers=bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        async with Publisher(bootstrap) as publisher:
            async for record in consumer:
                request = decode(record.topic, record.value)
                if not isinstance(request, RebalanceRequested):
                    continue
                if request.portfolio_id != portfolio:
                    continue
                await publisher.publish(refusal_of(request, cause="someone-else"))
                await publisher.publish(refusal_of(request, cause=request.event_id))
                return
    finally:
        await consumer.stop()


async def test_the_refusal_naming_the_request_is_its_answer(kafka: KafkaLauncher) -> None:
    bootstrap = kafka.bootstrap_servers
    await ensure_topics(bootstrap)
    portfolio = unique("pf")
    request = manual_run(portfolio)
    responder = asyncio.create_task(refuse_each_request(bootstrap, portfolio))
    async with Publisher(bootstrap) as publisher:
        answer = await publish_and_wait(
            bootstrap, request, ("request.rejected",), publisher.publish, timeout=60
        )
    await responder
    assert answer.refused
    assert isinstance(answer.event, RequestRejected)
    assert answer.event.causation_id == request.event_id
    assert answer.describe(60).startswith("refused OWN_WEIGHTS_WHILE_SUBSCRIBED: follows a model")


async def test_no_answer_within_the_wait_is_accepted_without_an_event(
    kafka: KafkaLauncher,
) -> None:
    bootstrap = kafka.bootstrap_servers
    await ensure_topics(bootstrap)
    async with Publisher(bootstrap) as publisher:
        # An old refusal of another request is on the topic already: it is not read.
        await publisher.publish(refusal_of(manual_run(unique("pf")), cause=unique("old")))
        answer = await publish_and_wait(
            bootstrap, manual_run(unique("pf")), ("request.rejected",), publisher.publish, 1.5
        )
    assert (answer.event, answer.refused) == (None, False)
    assert answer.describe(1.5) == "accepted (no refusal within 1.5 s)"
