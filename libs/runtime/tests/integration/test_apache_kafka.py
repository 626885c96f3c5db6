"""What Apache Kafka does that Tansu cannot (docs/design.md §4-§5), proven over the project's own broker.

- The idempotent producer: a Produce request the broker applied but whose answer never reached
  the producer (the connection dropped in between) is retried by the producer and *not* stored
  twice. A control case without idempotence shows that the same drop does duplicate the record,
  so the proxy really forces the retry.
- Transactions (aiokafka `transactional_id`): outputs and the input's offset commit land together
  or not at all; an aborted transaction's records are invisible to `read_committed` readers.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition  # type: ignore[import-untyped]
from aiokafka.admin import AIOKafkaAdminClient  # type: ignore[import-untyped]

from rebal_runtime.apache_kafka import ApacheKafka
from rebal_runtime.embedded import free_port
from rebal_runtime.testing.pytest_plugin import unique
from rebal_runtime.topics_admin import ensure_topics

pytestmark = [pytest.mark.kafka, pytest.mark.apache_kafka]

PRODUCE = 0  # Kafka API key of a Produce request


class DropAfterProduce:
    """A loopback TCP proxy in front of the broker that, once armed, lets the next Produce request
    through, waits for the broker's answer (so the records *are* stored), and then closes the
    client's connection instead of passing the answer on: the producer sees a dropped connection
    for a write that succeeded, the case a retry must not duplicate.

    It reads Kafka's framing (4-byte size, then for a request api_key, api_version and
    correlation_id; for a response the correlation_id) and forwards every byte otherwise."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = free_port()
        self.armed = False
        self.dropped = 0
        self._server: asyncio.Server | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            # Connections still open (a client not closed yet) are dropped with the server.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        doomed: set[int] = set()  # correlation ids (per connection) whose answer is never passed on

        async def upstream() -> None:
            while True:
                frame = await _frame(client_r)
                api_key, _version, correlation = struct.unpack(">hhi", frame[4:12])
                if api_key == PRODUCE and self.armed:
                    self.armed = False
                    doomed.add(correlation)
                server_w.write(frame)
                await server_w.drain()

        async def downstream() -> None:
            while True:
                frame = await _frame(server_r)
                (correlation,) = struct.unpack(">i", frame[4:8])
                if correlation in doomed:
                    self.dropped += 1
                    return  # the broker answered; the client never hears it
                client_w.write(frame)
                await client_w.drain()

        tasks = [asyncio.ensure_future(upstream()), asyncio.ensure_future(downstream())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for writer in (client_w, server_w):
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()


async def _frame(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readexactly(4)
    (size,) = struct.unpack(">i", head)
    return head + await reader.readexactly(size)


@pytest.fixture(scope="module")
async def proxied() -> AsyncIterator[tuple[ApacheKafka, DropAfterProduce]]:
    """An Apache Kafka of its own that advertises the proxy's port, so every client connection
    (bootstrap and the partition leader's) goes through the proxy."""
    broker_port = free_port()
    proxy = DropAfterProduce(broker_port)
    await proxy.start()
    kafka = ApacheKafka(
        port=broker_port, config={"advertised.listeners": f"PLAINTEXT://127.0.0.1:{proxy.port}"}
    )
    # start() blocks until the broker answers, through the proxy: the loop must keep serving it.
    await asyncio.to_thread(kafka.start)
    try:
        yield kafka, proxy
    finally:
        await asyncio.to_thread(kafka.stop)
        await proxy.stop()


async def _values(bootstrap: str, topic: str, isolation: str = "read_uncommitted") -> list[bytes]:
    """Every record value of a one-partition topic, from offset 0 to its end."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, isolation_level=isolation
    )
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]  # the last stable offset when read_committed
        values: list[bytes] = []
        while await consumer.position(tp) < end:
            batches = await consumer.getmany(tp, timeout_ms=1000)
            values.extend(r.value for r in batches.get(tp, []))
        return values
    finally:
        await consumer.stop()


async def _send_with_a_dropped_answer(
    proxy: DropAfterProduce, topic: str, idempotent: bool
) -> list[bytes]:
    """Six records, one at a time; the answer to the fourth one's Produce request is dropped."""
    bootstrap = proxy.bootstrap_servers
    await ensure_topics(bootstrap, [(topic, 1)])
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=idempotent,
        retry_backoff_ms=50,
        request_timeout_ms=5000,
    )
    await producer.start()
    sent = [f"record-{i}".encode() for i in range(6)]
    try:
        for i, value in enumerate(sent):
            proxy.armed = i == 3
            await producer.send_and_wait(topic, value, key=b"k")
    finally:
        await producer.stop()
    return sent


async def test_idempotent_producer_does_not_duplicate_a_retried_write(
    proxied: tuple[ApacheKafka, DropAfterProduce],
) -> None:
    _, proxy = proxied
    before = proxy.dropped
    topic = unique("idempotent")
    sent = await _send_with_a_dropped_answer(proxy, topic, idempotent=True)
    assert proxy.dropped == before + 1  # one answer never arrived: the producer had to retry
    assert await _values(proxy.bootstrap_servers, topic) == sent  # each record once, in order


async def test_without_idempotence_the_same_retry_duplicates_the_record(
    proxied: tuple[ApacheKafka, DropAfterProduce],
) -> None:
    """The control: it shows the proxy does force a retry of a write the broker had stored."""
    _, proxy = proxied
    before = proxy.dropped
    topic = unique("plain")
    sent = await _send_with_a_dropped_answer(proxy, topic, idempotent=False)
    assert proxy.dropped == before + 1
    stored = await _values(proxy.bootstrap_servers, topic)
    assert stored == sent[:4] + sent[3:]  # record-3 twice: stored, answer lost, sent again


async def test_transactions_commit_outputs_with_the_input_offset_and_hide_aborted_ones(
    apache_kafka: ApacheKafka,
) -> None:
    """Consume-transform-produce in one transaction: the outputs and the consumer group's offset
    commit are one atomic write; an aborted transaction leaves nothing a read_committed reader
    sees (though its records are in the log, as a read_uncommitted reader shows)."""
    bootstrap = apache_kafka.bootstrap_servers
    source, sink, group = unique("txn-in"), unique("txn-out"), unique("txn-group")
    await ensure_topics(bootstrap, [(source, 1), (sink, 1)])
    plain = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await plain.start()
    try:
        for i in range(3):
            await plain.send_and_wait(source, f"in-{i}".encode())
    finally:
        await plain.stop()

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, transactional_id=unique("txn"), enable_idempotence=True
    )
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    tp = TopicPartition(source, 0)
    await producer.start()
    await consumer.start()
    try:
        consumer.assign([tp])
        inputs = []
        while len(inputs) < 3:
            inputs.extend((await consumer.getmany(tp, timeout_ms=1000)).get(tp, []))
        async with producer.transaction():
            for record in inputs:
                await producer.send(sink, record.value.replace(b"in-", b"out-"))
            await producer.send_offsets_to_transaction({tp: inputs[-1].offset + 1}, group)
        await producer.begin_transaction()  # a failed attempt: aborted, so never visible
        await producer.send_and_wait(sink, b"aborted")
        await producer.abort_transaction()
    finally:
        await consumer.stop()
        await producer.stop()

    assert await _values(bootstrap, sink, "read_committed") == [b"out-0", b"out-1", b"out-2"]
    assert b"aborted" in await _values(bootstrap, sink, "read_uncommitted")
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    assert committed[tp].offset == 3  # committed by the transaction, with its outputs
