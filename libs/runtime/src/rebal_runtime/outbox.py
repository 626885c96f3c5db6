"""The outbox relay: publishes committed events (acks=all), then marks them sent.

A crash between publish and mark re-sends on restart; consumers dedupe on `event_id`, so a re-send
is harmless. A commit wakes the relay at once (low latency); a poll catches anything else, such as
messages left by a previous process.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any, Protocol

from aiokafka import AIOKafkaProducer

from rebal_runtime.kafka_security import aiokafka_security
from rebal_runtime.log import get_logger
from rebal_runtime.settings import RuntimeSettings
from rebal_runtime.store.port import DocumentStore, OutboxMessage

log = get_logger(__name__)


class MessageSender(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def send_batch(self, messages: Sequence[OutboxMessage]) -> None:
        """Publish all, in order per key; raise if any was not acknowledged."""


class AiokafkaSender:
    def __init__(self, settings: RuntimeSettings, send_timeout: float = 30.0) -> None:
        self.settings = settings
        self.send_timeout = send_timeout
        self._producer: Any = None

    async def start(self) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            client_id=f"{self.settings.service_name}-outbox",
            acks="all",
            enable_idempotence=self.settings.kafka_idempotent_producer,
            linger_ms=1,
            **aiokafka_security(self.settings),
        )
        await self._producer.start()

    async def stop(self) -> None:
        if self._producer is not None:
            # aiokafka's stop() can hang while Kafka is down (aiokafka#1101): bound it.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._producer.stop(), self.send_timeout)
            self._producer = None

    async def send_batch(self, messages: Sequence[OutboxMessage]) -> None:
        futures = [
            await self._producer.send(m.topic, value=m.value, key=m.key, headers=list(m.headers))
            for m in messages
        ]
        await asyncio.wait_for(asyncio.gather(*futures), self.send_timeout)


class OutboxRelay:
    def __init__(
        self,
        store: DocumentStore,
        sender: MessageSender,
        poll_seconds: float = 0.5,
        batch: int = 500,
    ) -> None:
        self.store = store
        self.sender = sender
        self.poll_seconds = poll_seconds
        self.batch = batch
        self.published = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        store.on_commit(self._wake.set)

    async def publish_pending(self) -> int:
        """One round: publish up to `batch` pending messages; returns how many."""
        pending = await self.store.pending_outbox(self.batch)
        if not pending:
            return 0
        await self.sender.send_batch([p.message for p in pending])
        await self.store.mark_published(pending)
        self.published += len(pending)
        return len(pending)

    async def drain(self) -> None:
        while await self.publish_pending() == self.batch:
            pass

    async def start(self) -> None:
        await self.sender.start()
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        with contextlib.suppress(Exception):
            await self.drain()  # last chance; whatever is left is sent by the next start
        await self.sender.stop()

    async def _run(self) -> None:
        backoff = self.poll_seconds
        while not self._stopping:
            self._wake.clear()
            try:
                sent = await self.publish_pending()
                backoff = self.poll_seconds
            except Exception as exc:  # Kafka or store down: keep the messages, retry later
                log.warning("outbox publish failed; will retry", error=repr(exc), retry_in=backoff)
                sent = 0
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
            if sent == self.batch:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
