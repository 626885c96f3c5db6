"""FastStream KafkaBroker wired for docs/design.md §4: acks=all, manual ack after commit, earliest reset."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaRouter

from rebal_runtime.consume import ReliableConsume, decode_body
from rebal_runtime.kafka_security import faststream_security
from rebal_runtime.settings import RuntimeSettings
from rebal_schemas import TOPICS, MessageDeadLettered, encode
from rebal_schemas.topics import Topic

Handler = Callable[..., Awaitable[None]]
Subscribe = Callable[..., Callable[[Handler], Handler]]


def make_broker(settings: RuntimeSettings, consume: ReliableConsume) -> KafkaBroker:
    broker = KafkaBroker(
        settings.kafka.bootstrap_servers,
        client_id=settings.service_name,
        acks="all",
        enable_idempotence=settings.kafka.idempotent_producer,
        ack_policy=AckPolicy.MANUAL,
        graceful_timeout=settings.graceful_timeout_seconds,
        security=faststream_security(settings),
        middlewares=[consume],
        allow_auto_create_topics=False,
        # FastStream logs every message twice ("Received", "Processed") at INFO: at thousands of
        # messages a second that costs more than the handling. Our own logs carry what matters.
        log_level=logging.DEBUG,
        description=f"rebal {settings.service_name}",
    )

    async def publish_dead_letter(event: MessageDeadLettered) -> None:
        await broker.publish(
            encode(event),
            topic=TOPICS["dead.letter"].name,
            key=(event.key or "").encode(),
            headers={"event_type": event.event_type, "event_id": event.event_id},
        )

    consume.bind(publish_dead_letter)
    return broker


def subscriber_options(settings: RuntimeSettings) -> dict[str, Any]:
    """Options every rebal subscriber uses; pass with `router.subscriber(topic, **options)`."""
    return {
        "group_id": settings.service_name,
        "auto_offset_reset": "earliest",
        "ack_policy": AckPolicy.MANUAL,
        "decoder": decode_body,
        "session_timeout_ms": settings.kafka.session_timeout_ms,
        "fetch_max_wait_ms": settings.kafka.fetch_max_wait_ms,
        "heartbeat_interval_ms": max(300, settings.kafka.session_timeout_ms // 4),
        # A slow handler must not get the consumer thrown out of the group mid-message.
        "max_poll_interval_ms": int(max(300.0, settings.graceful_timeout_seconds * 4) * 1000),
    }


def batch_subscriber_options(settings: RuntimeSettings) -> dict[str, Any]:
    """`subscriber_options` for a batch subscriber: the handler takes a `list` of events, is
    committed once per batch, and ReliableConsume isolates a bad message inside a batch."""
    return {
        **subscriber_options(settings),
        "batch": True,
        "max_records": settings.consume.batch_max,
        "batch_timeout_ms": max(1, round(settings.consume.batch_wait_seconds * 1000)),
        "fetch_max_wait_ms": (
            settings.kafka.entry_fetch_max_wait_ms
            if settings.kafka.entry_fetch_max_wait_ms is not None
            else settings.kafka.fetch_max_wait_ms
        ),
    }


def document_publishers(router: KafkaRouter, *topics: str) -> None:
    """Declare what a service publishes (through its outbox) so the AsyncAPI document shows it."""
    for name in topics:
        topic = TOPICS[name]
        router.publisher(
            name, schema=topic.payload_type, title=f"{name}:publish", description=topic.description
        )


def subscriptions(router: KafkaRouter, settings: RuntimeSettings) -> Subscribe:
    """The decorator a service puts on each consumer of a topic: `@subscribe(TOPIC, "what it
    does")`, or `batch=True` for a handler that takes a list of events (committed per batch).
    A tuple of topics makes one consumer of them all (one fetch loop, one group member, one
    offset commit per batch) whose handler takes a discriminated union of their events; its
    channels are then `<topic>:<handler name>`, FastStream's naming, one per topic.
    The description and the handler's typed parameter feed the AsyncAPI document."""
    options = subscriber_options(settings)
    batch_options = batch_subscriber_options(settings)

    def subscribe(
        topic: Topic | tuple[Topic, ...], description: str, *, batch: bool = False
    ) -> Callable[[Handler], Handler]:
        topics = topic if isinstance(topic, tuple) else (topic,)
        chosen: dict[str, Any] = {**(batch_options if batch else options)}
        if len(topics) == 1:
            chosen["title"] = f"{topics[0].name}:{settings.service_name}"
        # FastStream's decorator is untyped; the handlers it wraps are fully typed.
        decorator: Callable[[Handler], Handler] = router.subscriber(
            *(t.name for t in topics), description=description, **chosen
        )
        return decorator

    return subscribe
