"""Publish events (validated, keyed as docs/design.md §2 says) and follow topics.

Every function takes where Kafka is either as bootstrap servers (PLAINTEXT) or as a
`KafkaConnection`, which also says who to be there: on a secured broker each kind of client is its
own principal (`client`, `middleware`, `external-optimizer`, `price-feed`) and the broker's ACLs
decide what it may write (README, "Security").
"""

from __future__ import annotations

import asyncio
import os
import ssl
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from rebal_schemas import Event, PoisonMessage, decode, encode, key_of

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


class KafkaCredentialsMissing(ValueError):
    """A SASL protocol without the user or the password to authenticate with."""


@dataclass(frozen=True)
class KafkaConnection:
    """Where Kafka is and who to be there. The environment names are the services' own
    (`REBAL_KAFKA_SECURITY_PROTOCOL`, `..._SASL_MECHANISM`, `..._SASL_USERNAME`,
    `..._SASL_PASSWORD`, `..._SSL_CAFILE`), so one `<principal>.env` file serves both."""

    bootstrap_servers: str
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str = "PLAIN"
    username: str | None = None
    password: str | None = field(default=None, repr=False)  # a secret: kept out of repr and logs
    ssl_cafile: str | None = None

    def __post_init__(self) -> None:
        if self.security_protocol not in PROTOCOLS:
            raise ValueError(f"security protocol {self.security_protocol!r}: one of {PROTOCOLS}")
        if self.sasl_mechanism not in MECHANISMS:
            raise ValueError(f"SASL mechanism {self.sasl_mechanism!r}: one of {MECHANISMS}")
        if self.security_protocol.startswith("SASL") and not (self.username and self.password):
            # At construction, not as an authentication error on the first request.
            raise KafkaCredentialsMissing(
                f"{self.security_protocol} needs a SASL user and password "
                "(REBAL_KAFKA_SASL_USERNAME, REBAL_KAFKA_SASL_PASSWORD)"
            )

    @classmethod
    def of(cls, where: str | KafkaConnection) -> KafkaConnection:
        return where if isinstance(where, KafkaConnection) else cls(where)

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, bootstrap_servers: str | None = None
    ) -> KafkaConnection:
        values = os.environ if env is None else env
        return cls(
            bootstrap_servers=bootstrap_servers
            or values.get("REBAL_KAFKA_BOOTSTRAP_SERVERS")
            or "127.0.0.1:9092",
            security_protocol=values.get("REBAL_KAFKA_SECURITY_PROTOCOL") or "PLAINTEXT",
            sasl_mechanism=values.get("REBAL_KAFKA_SASL_MECHANISM") or "PLAIN",
            username=values.get("REBAL_KAFKA_SASL_USERNAME") or None,
            password=values.get("REBAL_KAFKA_SASL_PASSWORD") or None,
            ssl_cafile=values.get("REBAL_KAFKA_SSL_CAFILE") or None,
        )

    def options(self) -> dict[str, Any]:
        """Keyword arguments of any aiokafka client (producer, consumer, admin)."""
        options: dict[str, Any] = {"bootstrap_servers": self.bootstrap_servers}
        if self.security_protocol == "PLAINTEXT":
            return options
        options["security_protocol"] = self.security_protocol
        if self.security_protocol in ("SSL", "SASL_SSL"):
            options["ssl_context"] = ssl.create_default_context(cafile=self.ssl_cafile)
        if self.security_protocol.startswith("SASL"):
            options["sasl_mechanism"] = self.sasl_mechanism
            options["sasl_plain_username"] = self.username
            options["sasl_plain_password"] = self.password
        return options


class Publisher:
    def __init__(self, kafka: str | KafkaConnection) -> None:
        self._producer = AIOKafkaProducer(
            **KafkaConnection.of(kafka).options(), acks="all", linger_ms=2
        )

    async def __aenter__(self) -> Publisher:
        await self._producer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._producer.stop()

    async def publish(self, event: Event) -> None:
        await self._producer.send_and_wait(event.TOPIC, value=encode(event), key=key_of(event))

    async def publish_many(self, events: Iterable[Event]) -> int:
        """Pipelined: send all, then wait for every acknowledgement (acks=all)."""
        return len(await self._send_all(events))

    async def publish_tracked(self, events: Iterable[Event]) -> dict[str, dict[int, int]]:
        """`publish_many`, returning where the events landed: topic -> partition -> the offset
        after the last one, so a caller can wait until a consumer group has read them."""
        ends: dict[str, dict[int, int]] = {}
        for meta in await self._send_all(events):
            partitions = ends.setdefault(meta.topic, {})
            partitions[meta.partition] = max(partitions.get(meta.partition, 0), meta.offset + 1)
        return ends

    async def _send_all(self, events: Iterable[Event]) -> list[Any]:
        futures = [
            await self._producer.send(e.TOPIC, value=encode(e), key=key_of(e)) for e in events
        ]
        return [await future for future in futures]


async def wait_until_consumed(
    kafka: str | KafkaConnection,
    group: str,
    ends: dict[str, dict[int, int]],
    timeout: float = 60.0,
) -> None:
    """Until `group` has committed at least `ends` (from `publish_tracked`) on every partition.
    Reading another principal's group offsets needs DESCRIBE on it: an operator's view."""
    probe: Any = AIOKafkaConsumer(
        **KafkaConnection.of(kafka).options(), group_id=group, enable_auto_commit=False
    )
    await probe.start()
    try:
        waiting = {
            TopicPartition(t, p): end for t, parts in ends.items() for p, end in parts.items()
        }
        async with asyncio.timeout(timeout):
            while waiting:  # committed offsets are polled: Kafka has no "tell me when" for them
                waiting = {
                    tp: end for tp, end in waiting.items() if (await probe.committed(tp) or 0) < end
                }
                await asyncio.sleep(0.05 if waiting else 0)
    finally:
        await probe.stop()


async def follow(
    kafka: str | KafkaConnection, topics: Sequence[str], from_beginning: bool = False
) -> AsyncIterator[tuple[str, Event | None, bytes, str | None]]:
    """Yield (topic, event or None if undecodable, raw bytes, error) as they arrive; no consumer group."""
    consumer: Any = AIOKafkaConsumer(
        *topics,
        **KafkaConnection.of(kafka).options(),
        auto_offset_reset="earliest" if from_beginning else "latest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        async for record in consumer:
            try:
                yield record.topic, decode(record.topic, record.value), record.value, None
            except PoisonMessage as exc:
                yield record.topic, None, record.value, exc.reason
    finally:
        await consumer.stop()
