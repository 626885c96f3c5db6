"""One process of a rebal service: store, broker with the consume policy, outbox relay, lifecycle.

Start order: store, topics, relay, broker (consumers), broker watchdog. Stop order is the reverse:
consumers finish their in-flight message (graceful timeout) or are cancelled without committing,
then the relay flushes what they committed, then the store closes.

The Kafka clients are started in a context that never lets the broker auto-create a topic
(`topics_admin.refusing_auto_creation`), and the watchdog (`rebal_runtime.watchdog`) removes the
ready file while the broker is lost, re-creates lost topics with their partitions and writes the
ready file back once the consumers are assigned again.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from faststream import FastStream
from faststream.kafka import KafkaBroker, KafkaRouter
from faststream.specification import AsyncAPI

from rebal_runtime.broker import make_broker
from rebal_runtime.calendar import TradingCalendar, trading_calendar
from rebal_runtime.consume import ReliableConsume
from rebal_runtime.log import get_logger, tame_kafka_client_logs
from rebal_runtime.outbox import AiokafkaSender, MessageSender, OutboxRelay, relay_owner_id
from rebal_runtime.settings import RuntimeSettings, deprecated_names_in_use, effective_settings
from rebal_runtime.store import DocumentStore, store_from_settings
from rebal_runtime.topics_admin import configured_topics, ensure_topics, refusing_auto_creation
from rebal_runtime.watchdog import BrokerWatchdog, LossHook, WatchdogSettings

log = get_logger(__name__)

_BATCH_PUBLISH_WAIT = 1.0
"""How long a batch consumer waits for the relay before its next poll (Kafka down: go on)."""
Hook = Callable[[], Awaitable[None]]


class ServiceRuntime:
    def __init__(
        self,
        settings: RuntimeSettings,
        *,
        store: DocumentStore | None = None,
        sender: MessageSender | None = None,
        watch: WatchdogSettings | None = None,
    ) -> None:
        tame_kafka_client_logs()  # an outage must not flood the log (also for in-process tests)
        self.settings = settings
        self.store = store if store is not None else store_from_settings(settings)
        self.consume = ReliableConsume(settings)
        self.broker: KafkaBroker = make_broker(settings, self.consume)
        self.relay = OutboxRelay(
            self.store,
            sender if sender is not None else AiokafkaSender(settings),
            poll_seconds=settings.outbox.poll_seconds,
            batch=settings.outbox.batch,
            lease_seconds=settings.outbox.lease_seconds,
            owner=f"{settings.service_name}-{relay_owner_id()}",
        )
        self.consume.after_batch = functools.partial(self.relay.caught_up, _BATCH_PUBLISH_WAIT)
        self._on_start: list[Hook] = []
        self._on_stop: list[Hook] = []
        self.started = False
        self._readiness: asyncio.Task[None] | None = None
        self._generations: dict[int, object] = {}
        self.not_ready_reason: str | None = "starting"
        """None while ready; else why not (starting, the broker lost, ...)."""
        self.watchdog = BrokerWatchdog(
            settings,
            configured_topics(),
            on_lost=self._broker_lost,
            on_back=self._broker_back,
            watch=watch,
        )

    def include_router(self, router: KafkaRouter) -> None:
        self.broker.include_router(router)

    def on_start(self, hook: Hook) -> Hook:
        """Run after the store and relay are up, before consumers start (e.g. background loops)."""
        self._on_start.append(hook)
        return hook

    def on_stop(self, hook: Hook) -> Hook:
        self._on_stop.append(hook)
        return hook

    def trading_calendar(self) -> TradingCalendar:
        """The market's calendar the settings name (`REBAL_TRADING_CALENDAR` read in
        `REBAL_MARKET_TIMEZONE`), its data read at start: an unknown code fails the start, not
        the first message, and building the service stays instant."""
        calendar = trading_calendar(self.settings.trading_calendar, self.settings.market_tz)

        async def load() -> None:
            calendar.load()

        self.on_start(load)
        return calendar

    def on_broker_data_lost(self, hook: LossHook) -> LossHook:
        """Run (with the reason) when the watchdog finds that the broker lost records: it came
        back without its topics, or log-end offsets went down. What was published before may
        never have been consumed (e.g. re-report facts nobody may have seen)."""
        self.watchdog.on_data_lost.append(hook)
        return hook

    async def _start_infrastructure(self) -> None:
        await self.store.open()
        if self.settings.kafka.create_topics:
            await ensure_topics(self.settings.kafka.bootstrap_servers)
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
        # Every client (relay producer, consumers, the broker's producer) and every task they
        # create inherit the no-auto-creation context of this task.
        await refusing_auto_creation(self._start_all())
        self.started = True
        self._readiness = asyncio.create_task(self._announce_ready(), name="readiness")
        await self.watchdog.start()
        log.info(
            "service started",
            service=self.settings.service_name,
            settings=effective_settings(self.settings),
        )
        for old, new in deprecated_names_in_use(os.environ).items():
            log.warning("deprecated setting name, read for one release", name=old, use=new)

    async def _start_all(self) -> None:
        await self._start_infrastructure()
        await self.broker.start()

    def consumers_assigned(self) -> bool:
        """True once every subscriber's consumer has partitions (it will receive messages)."""
        consumers = [getattr(s, "consumer", None) for s in self.broker.subscribers]
        return all(c is not None and c.assignment() for c in consumers)

    async def wait_until_assigned(self, timeout: float = 60.0) -> None:
        # Polled: aiokafka offers no "assigned" event that covers every subscriber at once.
        async with asyncio.timeout(timeout):
            while not self.consumers_assigned():  # noqa: ASYNC110
                await asyncio.sleep(0.05)

    async def _announce_ready(self, again: bool = False) -> None:
        await self.wait_until_assigned(timeout=3600)
        if self.settings.ready_file:
            await asyncio.to_thread(_write_ready_file, Path(self.settings.ready_file))
        self.not_ready_reason = None
        log.info(
            "service ready again" if again else "service ready", service=self.settings.service_name
        )

    def _consumers(self) -> list[Any]:
        return [c for c in (getattr(s, "consumer", None) for s in self.broker.subscribers) if c]

    async def _wait_rejoined(self, generations: dict[int, object]) -> None:
        """After an outage: until every consumer has a coordinator, needs no rejoin and holds
        partitions, and either rejoined (new generation: an emptied broker forgot the group) or
        stayed so for a session timeout (a broker back with its data may keep the group)."""
        grace = self.settings.kafka.session_timeout_ms / 1000
        loop = asyncio.get_running_loop()
        settled_since: float | None = None
        while True:
            settled = all(_settled(c) for c in self._consumers())
            rejoined = all(_generation(c) != generations.get(id(c)) for c in self._consumers())
            now = loop.time()
            settled_since = (settled_since or now) if settled else None
            if settled and (rejoined or now - (settled_since or now) >= grace):
                return
            await asyncio.sleep(0.05)

    async def _broker_lost(self, reason: str) -> None:
        self._generations = {id(c): _generation(c) for c in self._consumers()}
        self.not_ready_reason = reason
        if self._readiness is not None:
            self._readiness.cancel()
            self._readiness = None
        if self.settings.ready_file:
            await asyncio.to_thread(Path(self.settings.ready_file).unlink, missing_ok=True)

    async def _broker_back(self) -> None:
        # The clients refresh their metadata only every 5 minutes unless told: the re-created
        # topics must be seen now, so that the consumers rejoin with every partition.
        for subscriber in self.broker.subscribers:
            consumer = getattr(subscriber, "consumer", None)
            client = getattr(consumer, "_client", None)
            if client is not None:
                client.force_metadata_update()
        self._readiness = asyncio.create_task(self._ready_again(), name="readiness")

    async def _ready_again(self) -> None:
        await self._wait_rejoined(self._generations)
        await self._announce_ready(again=True)

    async def stop(self) -> None:
        if not self.started:
            return
        self.started = False
        await self.watchdog.stop()
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
            await refusing_auto_creation(self._start_infrastructure())
            await self.watchdog.start()
            try:
                yield
            finally:
                await self.watchdog.stop()
                await self._stop_infrastructure()

        return FastStream(
            self.broker,
            specification=AsyncAPI(title=title, version=version, description=description),
            lifespan=lifespan,
        )


def _generation(consumer: Any) -> object:
    """The consumer's membership: a broker that forgot the group can hand out the same
    generation number again, never the same member id."""
    coordinator = getattr(consumer, "_coordinator", None)
    return (getattr(coordinator, "generation", None), getattr(coordinator, "member_id", None))


def _settled(consumer: Any) -> bool:
    """aiokafka has no public "in the group and assigned" state; read its coordinator's."""
    coordinator = getattr(consumer, "_coordinator", None)
    if not consumer.assignment():
        return False
    if coordinator is None or not hasattr(coordinator, "coordinator_id"):
        return True  # manual assignment, no group
    rejoin = getattr(coordinator, "_rejoin_needed_fut", None)
    return coordinator.coordinator_id is not None and not (rejoin is not None and rejoin.done())


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
