"""Who may write what, enforced by a real Apache Kafka (docs/design.md §4; issue #17 item 1).

The finding: anyone who could produce to Kafka could trade (a forged optimization.ready made the
order-router buy; forged order.filled and run.completed rewrote books), since the `producer` field
is self-declared. Here the project's broker runs secured (`SecuredApacheKafka`: SCRAM-SHA-512 on a
SASL_PLAINTEXT listener, the KRaft StandardAuthorizer, no ACL means no access) with the ACLs of
`rebal_runtime.topic_acl`, and aiokafka clients authenticate as each principal:

- the `client` role's forged optimization.ready, run.completed and order.filled are refused by the
  broker (TopicAuthorizationFailedError), with `producer: "optimizer"` in the payload or not,
  while its portfolio.patched goes through;
- `middleware` may write order.filled but not optimization.ready; `optimizer` may write
  optimization.ready, `order-router` order.filled;
- a consumer authenticated as `optimizer` reads with its group and commits; a client cannot join
  the optimizer's group (it could commit the group past messages) but reads the public outputs
  with a group of its own prefix;
- an unauthenticated PLAINTEXT client, a wrong password and a user without ACLs get nothing;
- the broker enforces exactly the table, and its log holds none of the passwords;
- the runtime's FastStream broker (`make_broker`) and a whole `ServiceRuntime` (consume, commit,
  outbox, dead letter) run as their principal from the REBAL_KAFKA_SASL_* settings.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition  # type: ignore[import-untyped]
from aiokafka.errors import (  # type: ignore[import-untyped]
    ClusterAuthorizationFailedError,
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    TopicAuthorizationFailedError,
)

from rebal_runtime import topic_acl
from rebal_runtime.apache_kafka import repo_root
from rebal_runtime.apache_kafka_security import SecuredApacheKafka, wire_acl
from rebal_runtime.broker import make_broker
from rebal_runtime.consume import ReliableConsume
from rebal_runtime.settings import RuntimeSettings
from rebal_runtime.testing.pytest_plugin import settings_for, unique
from rebal_schemas import CashDeposited, Event, MessageDeadLettered, decode, encode

from .ledger_service import Ledger

pytestmark = [pytest.mark.kafka, pytest.mark.apache_kafka]

GOLDEN = Path(repo_root(Path(__file__).resolve().parent) or ".") / "libs/schemas/tests/golden/v1"


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredApacheKafka]:
    """A broker of this module's own (the session's shared brokers stay PLAINTEXT)."""
    folder = tmp_path_factory.mktemp("secured-kafka")
    kafka = SecuredApacheKafka(log_path=folder / "kafka.log", extra_users=("stranger",))
    with kafka:
        print(f"secured Apache Kafka ready: {kafka.timings}")  # pytest -s shows the setup time
        yield kafka


def forged(topic: str, **update: Any) -> bytes:
    """The golden event of `topic`, made new, claiming to come from the optimizer (or `update`)."""
    name = {
        "portfolio.patched": "portfolio.patched.deposit",
        "run.completed": "run.completed.v2",
        "run.status_changed": "run.status_changed.created",
        "run.execution": "run.execution.started",
    }.get(topic, topic)
    event = decode(topic, (GOLDEN / f"{name}.json").read_bytes())
    copy = event.model_copy(update={"event_id": unique("evt"), "producer": "optimizer", **update})
    assert decode(topic, encode(copy)).producer == update.get("producer", "optimizer")
    return encode(copy)


async def produce(
    kafka: SecuredApacheKafka,
    principal: str,
    topic: str,
    value: bytes,
    key: bytes = b"pf-003",
    idempotent: bool = True,
) -> int:
    """Publish as `principal` with acks=all (and the idempotent producer, as services do on
    Apache Kafka; since Kafka 3.0 WRITE on a topic is all it needs); the offset it got."""
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka.bootstrap_servers,
        acks="all",
        enable_idempotence=idempotent,
        request_timeout_ms=10000,
        **kafka.client_options(principal),
    )
    await producer.start()
    try:
        sent = await producer.send_and_wait(topic, value=value, key=key)
        return int(sent.offset)
    finally:
        await producer.stop()


async def read_as_admin(
    kafka: SecuredApacheKafka, topic: str, found: Callable[[bytes], bool], timeout: float = 30.0
) -> bytes:
    """The first record of `topic` (every partition, from the start) that `found` accepts."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka.bootstrap_servers,
        enable_auto_commit=False,
        **kafka.client_options(topic_acl.ADMIN),
    )
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or (
            await consumer._client.fetch_all_metadata()
        ).partitions_for_topic(topic)
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                for record in records:
                    if found(record.value):
                        return bytes(record.value)
        raise TimeoutError(f"no such record on {topic}")
    finally:
        await consumer.stop()


# --- the finding: a client forging what only rebal may say -----------------------------------


@pytest.mark.parametrize(
    "topic",
    [
        "optimization.ready",
        "run.completed",
        "order.filled",
        "run.execution",
        "run.status_changed",
        "run.settled",
        "request.rejected",
        "model.status_changed",
    ],
)
async def test_a_client_cannot_forge_what_rebal_or_the_router_says(
    secured: SecuredApacheKafka, topic: str
) -> None:
    with pytest.raises(TopicAuthorizationFailedError) as refused:
        await produce(secured, "client", topic, forged(topic))
    assert str(refused.value) == f"[Error 29] TopicAuthorizationFailedError: {topic}"


async def test_the_producer_field_is_irrelevant_only_the_principal_counts(
    secured: SecuredApacheKafka,
) -> None:
    ready = forged("optimization.ready")  # says producer "optimizer"
    with pytest.raises(TopicAuthorizationFailedError):
        await produce(secured, "client", "optimization.ready", ready)
    # The same bytes from the optimizer's principal are accepted: the broker looked at who sent it.
    offset = await produce(secured, "optimizer", "optimization.ready", ready)
    assert offset >= 0
    assert await read_as_admin(secured, "optimization.ready", lambda v: v == ready) == ready


async def test_a_client_writes_its_own_topics(secured: SecuredApacheKafka) -> None:
    deposit = forged("portfolio.patched", producer="client")
    assert await produce(secured, "client", "portfolio.patched", deposit) >= 0
    cancel = forged("run.cancel_requested", producer="client")
    assert await produce(secured, "client", "run.cancel_requested", cancel) >= 0


async def test_middleware_reports_fills_but_cannot_make_orders(secured: SecuredApacheKafka) -> None:
    assert await produce(secured, "middleware", "order.filled", forged("order.filled")) >= 0
    with pytest.raises(TopicAuthorizationFailedError):
        await produce(secured, "middleware", "optimization.ready", forged("optimization.ready"))


async def test_the_services_write_what_they_produce(secured: SecuredApacheKafka) -> None:
    assert (
        await produce(secured, "optimizer", "optimization.ready", forged("optimization.ready")) >= 0
    )
    assert await produce(secured, "order-router", "order.filled", forged("order.filled")) >= 0
    assert (
        await produce(secured, "settlement-tracker", "run.completed", forged("run.completed")) >= 0
    )
    assert await produce(secured, "order-router", "run.execution", forged("run.execution")) >= 0
    assert (
        await produce(secured, "settlement-tracker", "request.rejected", forged("request.rejected"))
        >= 0
    )
    # ...and nothing else: the router cannot declare a run complete or change its status, the
    # scheduler cannot fill.
    with pytest.raises(TopicAuthorizationFailedError):
        await produce(secured, "order-router", "run.completed", forged("run.completed"))
    with pytest.raises(TopicAuthorizationFailedError):
        await produce(secured, "order-router", "run.status_changed", forged("run.status_changed"))
    with pytest.raises(TopicAuthorizationFailedError):
        await produce(secured, "scheduler", "order.filled", forged("order.filled"))


# --- reading: groups --------------------------------------------------------------------------


async def _consume_one(
    kafka: SecuredApacheKafka, principal: str, topic: str, group: str, wanted: bytes
) -> AIOKafkaConsumer:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka.bootstrap_servers,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=6000,
        heartbeat_interval_ms=500,
        **kafka.client_options(principal),
    )
    await consumer.start()
    try:
        async with asyncio.timeout(60):
            async for record in consumer:
                if record.value == wanted:
                    await consumer.commit()
                    tp = TopicPartition(record.topic, record.partition)
                    assert await consumer.committed(tp) == record.offset + 1
                    return consumer
    finally:
        await consumer.stop()
    raise AssertionError("unreachable")


async def test_a_service_reads_with_its_group_and_commits(secured: SecuredApacheKafka) -> None:
    deposit = forged("portfolio.patched", producer="client")
    await produce(secured, "client", "portfolio.patched", deposit)
    await _consume_one(secured, "optimizer", "portfolio.patched", "optimizer", deposit)


async def test_a_client_reads_public_outputs_with_its_own_groups_only(
    secured: SecuredApacheKafka,
) -> None:
    completed = forged("run.completed", producer="settlement-tracker")
    await produce(secured, "settlement-tracker", "run.completed", completed)
    await _consume_one(secured, "client", "run.completed", unique("client"), completed)
    # The optimizer's group: joining it would let a client commit the optimizer past messages.
    with pytest.raises(GroupAuthorizationFailedError):
        await _consume_one(secured, "client", "run.completed", "optimizer", completed)
    # order.filled is not a public output.
    with pytest.raises(TopicAuthorizationFailedError):
        await _consume_one(secured, "client", "order.filled", unique("client"), b"")


# --- authentication ---------------------------------------------------------------------------


async def test_an_unauthenticated_client_cannot_connect(secured: SecuredApacheKafka) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=secured.bootstrap_servers, request_timeout_ms=5000
    )
    try:
        with pytest.raises(KafkaConnectionError, match="Unable to bootstrap"):
            await producer.start()  # PLAINTEXT on the SASL listener: the broker hangs up
    finally:
        await producer.stop()
    user, _ = secured.credentials("optimizer")
    wrong = AIOKafkaProducer(
        bootstrap_servers=secured.bootstrap_servers,
        request_timeout_ms=5000,
        **{**secured.client_options("optimizer"), "sasl_plain_password": "not-" + user},
    )
    try:
        with pytest.raises(KafkaConnectionError, match="Unable to bootstrap"):
            await wrong.start()
    finally:
        await wrong.stop()


async def test_valid_credentials_without_acls_allow_nothing(secured: SecuredApacheKafka) -> None:
    deposit = forged("portfolio.patched", producer="client")
    # No WRITE on any topic: not even a producer id for an idempotent producer...
    with pytest.raises(ClusterAuthorizationFailedError):
        await produce(secured, "stranger", "portfolio.patched", deposit)
    # ...and a plain producer is refused the topic.
    with pytest.raises(TopicAuthorizationFailedError):
        await produce(secured, "stranger", "portfolio.patched", deposit, idempotent=False)
    with pytest.raises(TopicAuthorizationFailedError):
        await _consume_one(secured, "stranger", "run.completed", unique("stranger"), b"")


async def test_the_broker_enforces_exactly_the_table_and_logs_no_password(
    secured: SecuredApacheKafka,
) -> None:
    assert await secured.described_acls() == {wire_acl(b) for b in topic_acl.bindings()}
    assert secured.log_path is not None
    log = secured.log_path.read_text(errors="replace")
    assert "StandardAuthorizer" in log  # the log is the broker's
    for user in secured.users():
        assert secured.credentials(user)[1] not in log, f"{user}'s password is in the log"
    assert all(secured.credentials(u)[1] not in repr(secured) for u in secured.users())


# --- the runtime, secured ---------------------------------------------------------------------


def _service_settings(
    kafka: SecuredApacheKafka, tmp_path: Path, principal: str, **overrides: object
) -> RuntimeSettings:
    user, password = kafka.credentials(principal)
    return settings_for(
        kafka.bootstrap_servers,
        tmp_path,
        principal,
        service_name=principal,  # = its consumer group, the one its ACL names
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username=user,
        kafka_sasl_password=password,
        kafka_create_topics=False,  # only admin may create topics
        kafka_idempotent_producer=True,
        **overrides,
    )


async def test_the_runtime_faststream_broker_publishes_as_its_principal(
    secured: SecuredApacheKafka, tmp_path: Path
) -> None:
    settings = _service_settings(secured, tmp_path, "optimizer")
    broker = make_broker(settings, ReliableConsume(settings))
    await broker.start()
    try:
        ready = forged("optimization.ready")
        await broker.publish(ready, topic="optimization.ready", key=b"pf-003")
        with pytest.raises(TopicAuthorizationFailedError):
            await broker.publish(forged("run.completed"), topic="run.completed", key=b"pf-003")
    finally:
        await broker.stop()
    assert await read_as_admin(secured, "optimization.ready", lambda v: v == ready) == ready


async def test_a_service_consumes_commits_publishes_and_dead_letters_as_its_principal(
    secured: SecuredApacheKafka, tmp_path: Path
) -> None:
    """A whole ServiceRuntime (the test ledger) as `optimizer`: its group reads portfolio.patched
    and commits, its outbox publishes to optimization.created, a poison message is dead-lettered."""
    ledger = Ledger(_service_settings(secured, tmp_path, "optimizer"))
    portfolio = unique("pf")
    deposit = encode(CashDeposited(portfolio_id=portfolio, amount=Decimal("5"), producer="client"))
    async with ledger.runtime.running():
        await produce(secured, "client", "portfolio.patched", deposit, key=portfolio.encode())
        await produce(secured, "client", "portfolio.patched", b"{oops", key=portfolio.encode())
        ack = await read_as_admin(
            secured, "optimization.created", lambda v: portfolio.encode() in v, timeout=60
        )
        letter = await read_as_admin(
            secured, "dead.letter", lambda v: portfolio.encode() in v, timeout=60
        )
    event: Event = decode("optimization.created", ack)
    assert event.producer == "ledger"
    dead = decode("dead.letter", letter)
    assert isinstance(dead, MessageDeadLettered)
    assert (dead.key, dead.error_type) == (portfolio, "MalformedMessage")
    assert dead.consumer_group == "optimizer"
