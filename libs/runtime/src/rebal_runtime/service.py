"""One process of a rebal service: store, broker with the consume policy, outbox relay, lifecycle.

Start order: store, topics, relay, broker (consumers). Stop order is the reverse: consumers finish
their in-flight message (graceful timeout) or are cancelled without committing, then the relay
flushes what they committed, then the store closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from faststream import FastStream
from faststream.kafka import KafkaBroker, KafkaRouter
from faststream.specification import AsyncAPI

from rebal_runtime.broker import make_broker
from rebal_runtime.consume import ReliableConsume
from rebal_runtime.log import get_logger
from rebal_runtime.outbox import AiokafkaSender, MessageSender, OutboxRelay, relay_owner_id
from rebal_runtime.settings import RuntimeSettings
from rebal_runtime.store import DocumentStore, store_from_settings
from rebal_runtime.topics_admin import ensure_topics

log = get_logger(__name__)
Hook = Callable[[], Awaitable[None]]


class ServiceRuntime:
    def __init__(
        self,
        settings: RuntimeSettings,
        *,
        store: DocumentStore | None = None,
        sender: MessageSender | None = None,
    ) -> None:
        self.settings = settings
        self.store = store if store is not None else store_from_settings(settings)
        self.consume = ReliableConsume(settings)
        self.broker: KafkaBroker = make_broker(settings, self.consume)
        self.relay = OutboxRelay(
            self.store,
            sender if sender is not None else AiokafkaSender(settings),
            poll_seconds=settings.outbox_poll_seconds,
            batch=settings.outbox_batch,
            lease_seconds=settings.outbox_lease_seconds,
            owner=f"{settings.service_name}-{relay_owner_id()}",
        )
        self._on_start: list[Hook] = []
        self._on_stop: list[Hook] = []
        self.started = False
        self._readiness: asyncio.Task[None] | None = None

    def include_router(self, router: KafkaRouter) -> None:
        self.broker.include_router(router)

    def on_start(self, hook: Hook) -> Hook:
        """Run after the store and relay are up, before consumers start (e.g. background loops)."""
        self._on_start.append(hook)
        return hook

    def on_stop(self, hook: Hook) -> Hook:
        self._on_stop.append(hook)
        return hook

    async def _start_infrastructure(self) -> None:
        await self.store.open()
        if self.settings.kafka_create_topics:
            await ensure_topics(self.settings.kafka_bootstrap_servers)
        await self.relay.start()
        for hook in self._on_start:
            await hook()

    async def _stop_infrastructure(self) -> None:
        for hook in reversed(self._on_stop):
            try:
                await hook()
            except Exception as exc:
                log.warning("stop hook failed", error=repr(exc))
        await self.relay.stop()
        await self.store.close()

    async def start(self) -> None:
        await self._start_infrastructure()
        await self.broker.start()
        self.started = True
        self._readiness = asyncio.create_task(self._announce_ready(), name="readiness")
        log.info("service started", service=self.settings.service_name)

    def consumers_assigned(self) -> bool:
        """True once every subscriber's consumer has partitions (it will receive messages)."""
        consumers = [getattr(s, "consumer", None) for s in self.broker.subscribers]
        return all(c is not None and c.assignment() for c in consumers)

    async def wait_until_assigned(self, timeout: float = 60.0) -> None:
        # Polled: aiokafka offers no "assigned" event that covers every subscriber at once.
        async with asyncio.timeout(timeout):
            while not self.consumers_assigned():  # noqa: ASYNC110
                await asyncio.sleep(0.05)

    async def _announce_ready(self) -> None:
        await self.wait_until_assigned(timeout=3600)
        if self.settings.ready_file:
            await asyncio.to_thread(_write_ready_file, Path(self.settings.ready_file))
        log.info("service ready", service=self.settings.service_name)

    async def stop(self) -> None:
        if not self.started:
            return
        self.started = False
        if self._readiness is not None:
            self._readiness.cancel()
        if self.settings.ready_file:
            Path(self.settings.ready_file).unlink(missing_ok=True)  # noqa: ASYNC240 - tiny, once
        await self.broker.stop()  # waits for in-flight handlers up to the graceful timeout
        await self._stop_infrastructure()
        log.info("service stopped", service=self.settings.service_name)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[ServiceRuntime]:
        await self.start()
        try:
            yield self
        finally:
            await self.stop()

    def app(self, title: str, version: str = "0.1.0", description: str = "") -> FastStream:
        """The FastStream application (`faststream run`, AsyncAPI docs)."""

        @contextlib.asynccontextmanager
        async def lifespan() -> AsyncIterator[None]:
            # FastStream starts the broker inside this context and stops it before leaving.
            await self._start_infrastructure()
            try:
                yield
            finally:
                await self._stop_infrastructure()

        return FastStream(
            self.broker,
            specification=AsyncAPI(title=title, version=version, description=description),
            lifespan=lifespan,
        )


def _write_ready_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{os.getpid()}\n")


async def run_forever(runtime: ServiceRuntime) -> None:
    """Run until SIGINT/SIGTERM, then stop gracefully (used by `python -m rebal_<service>`)."""
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with runtime.running():
        await stop.wait()
