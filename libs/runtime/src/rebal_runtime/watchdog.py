"""The broker watchdog: a service says it is not ready while Kafka is unreachable or has lost its
topics, and recovers by itself when Kafka is back.

Every `broker_watch_seconds` it asks the broker for its topics (one Metadata request on a client
of its own). Two failures in a row (`broker_watch_failures`) make the broker "lost": one warning
says why, the service's `on_lost` removes its ready file, and while the loss lasts a reminder is
logged at doubling intervals (up to `broker_watch_log_max_seconds`). aiokafka's own per-attempt
errors are rate-limited meanwhile (`rebal_runtime.log.RepeatLimiter`). The checks are a
`rebal_runtime.periodic.PeriodicTask` on the injected `Clock`: on stop, a check in progress (and
the hooks it runs) finishes, then the watchdog stops.

A broker that answers without some of the configured topics has restarted empty (the embedded
Tansu keeps nothing, docs/design.md §5), possibly between two checks: the service goes not-ready at once,
the watchdog creates the topics with their configured partitions (when the service creates topics
at all, `kafka_create_topics`) and says so with an error line. Then `on_back`: the service's
clients refresh their metadata and the ready file comes back once the consumers are assigned.

The broker may also have been given its topics back by someone else (the stack launcher does so
the moment it restarts Tansu) before this watchdog saw anything. So it also remembers the log-end
offset of every partition: an end offset that went *down* means records were lost. Either way the
`on_data_lost` hooks run (the order-router re-reports the fills the broker may have lost).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence

from rebal_runtime.broker_probe import (
    MetadataProbe,
    Partition,
    ReminderBackoff,
    TopicCheck,
    TopicsProbe,
    WatchdogSettings,
    offsets_went_back,
)
from rebal_runtime.clock import Clock, SystemClock
from rebal_runtime.kafka_security import aiokafka_security
from rebal_runtime.log import get_logger
from rebal_runtime.periodic import PeriodicTask
from rebal_runtime.settings import RuntimeSettings
from rebal_runtime.topics_admin import ensure_topics

log = get_logger(__name__)

__all__ = [
    "BrokerWatchdog",
    "LossHook",
    "MetadataProbe",
    "Partition",
    "ReminderBackoff",
    "TopicCheck",
    "TopicsProbe",
    "WatchdogSettings",
    "offsets_went_back",
]


Hook = Callable[[], Awaitable[None]]
Reason = Callable[[str], Awaitable[None]]
LossHook = Callable[[str], Awaitable[None]]


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class BrokerWatchdog:
    def __init__(
        self,
        settings: RuntimeSettings,
        wanted: Sequence[tuple[str, int]],
        *,
        on_lost: Reason,
        on_back: Hook,
        watch: WatchdogSettings | None = None,
        probe: TopicsProbe | None = None,
        create_topics: Callable[[list[tuple[str, int]]], Awaitable[list[str]]] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.settings = settings
        self.watch = watch if watch is not None else WatchdogSettings()
        self.wanted = list(wanted)
        self.on_lost = on_lost
        self.on_back = on_back
        self.probe = probe or MetadataProbe(settings, self.watch.broker_watch_timeout_seconds)
        self._create = create_topics or self._ensure_topics
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.on_data_lost: list[LossHook] = []
        self.data_losses = 0
        self._ends: dict[Partition, int] = {}
        self.lost = False
        self.reason: str | None = None
        self.losses = 0
        self.recreated: list[str] = []
        self._failures = 0
        self._lost_at = 0.0
        self._reminder = ReminderBackoff(
            self.watch.broker_watch_seconds * 4, self.watch.broker_watch_log_max_seconds
        )
        self._reported_partitions: set[str] = set()
        # a check in progress finishes on stop (its hooks too), a waiting watchdog stops at once
        self.task = PeriodicTask(
            "broker-watchdog", self.check_once, self.watch.broker_watch_seconds, self.clock
        )

    async def _ensure_topics(self, topics: list[tuple[str, int]]) -> list[str]:
        return await ensure_topics(
            self.settings.kafka.bootstrap_servers,
            topics,
            request_timeout_ms=int(self.watch.broker_watch_timeout_seconds * 1000),
            **aiokafka_security(self.settings),
        )

    async def start(self) -> None:
        await self.task.start()  # a round that fails (a hook raised) is logged; it keeps watching

    async def stop(self) -> None:
        await self.task.stop()
        with contextlib.suppress(Exception):
            await self.probe.close()

    def _seconds(self) -> float:
        """The clock's time as seconds, for outage lengths and reminders."""
        return self.clock.now().timestamp()

    async def check_once(self) -> None:
        try:
            async with asyncio.timeout(self.watch.broker_watch_timeout_seconds):
                present = await self.probe.topics()
        except Exception as exc:
            await self.probe.close()  # reconnect from the bootstrap servers next time
            await self._failed(f"broker unreachable ({_describe(exc)})")
            return
        check = TopicCheck.of(present, self.wanted)
        if check.missing:
            if not self.settings.kafka.create_topics:
                await self._failed(f"topics missing on the broker: {', '.join(check.missing)}")
                return
            await self._recreate(check.missing)
        # Only a service that creates the topics knows their counts (a deployment may create
        # them with more partitions and switch `kafka_create_topics` off).
        wrong = check.wrong_partitions if self.settings.kafka.create_topics else ()
        for name, has, configured in wrong:
            if name not in self._reported_partitions:
                self._reported_partitions.add(name)
                log.error(
                    "topic has another partition count than configured (created by someone "
                    "else); messages keyed to the missing partitions cannot be placed as planned",
                    topic=name,
                    partitions=has,
                    configured=configured,
                )
        try:
            async with asyncio.timeout(self.watch.broker_watch_timeout_seconds):
                await self._check_offsets(present)
        except TimeoutError:
            await self._failed("broker did not answer a ListOffsets request in time")
            return
        await self._healthy()

    async def _recreate(self, missing: tuple[str, ...]) -> None:
        # A broker without our topics lost its data (a restart of the memory engine): not ready
        # until they are back, even when the outage itself fell between two checks.
        await self._lose(f"broker lost its topics (restarted empty?): {', '.join(missing)}")
        wanted = [(name, parts) for name, parts in self.wanted if name in missing]
        created = await self._create(wanted)
        self.recreated.extend(created)
        log.error(
            "broker had lost topics: created them with their configured partitions; what it "
            "held (messages, committed offsets) is gone, reconciliation re-reports what it can",
            topics=created or list(missing),
            service=self.settings.service_name,
        )
        self._ends = {}  # the new topics start at offset 0
        await self._data_lost(f"topics re-created: {', '.join(created or missing)}")

    async def _data_lost(self, reason: str) -> None:
        self.data_losses += 1
        for hook in self.on_data_lost:
            await hook(reason)

    async def _check_offsets(self, present: dict[str, int]) -> None:
        wanted = {name: present[name] for name, _ in self.wanted if name in present}
        ends = await self.probe.end_offsets(wanted)
        back = offsets_went_back(self._ends, ends)
        self._ends = ends
        if back:
            log.error(
                "broker lost records: log-end offsets went down (restarted empty?)",
                service=self.settings.service_name,
                partitions=[f"{t}[{p}]" for t, p in back[:10]],
                count=len(back),
            )
            await self._data_lost(f"log-end offsets went down on {len(back)} partitions")

    async def _failed(self, reason: str) -> None:
        self._failures += 1
        if not self.lost and self._failures >= self.watch.broker_watch_failures:
            await self._lose(reason)
        elif self.lost and self._reminder.due(now := self._seconds()):
            log.warning(
                "broker still unreachable; service not ready",
                service=self.settings.service_name,
                reason=reason,
                down_seconds=round(now - self._lost_at, 1),
            )

    async def _lose(self, reason: str) -> None:
        if self.lost:
            return
        self.lost, self.reason = True, reason
        self.losses += 1
        self._lost_at = self._seconds()
        self._reminder.start(self._lost_at)
        log.warning(
            "broker lost; service not ready until it is back",
            service=self.settings.service_name,
            reason=reason,
            bootstrap=self.settings.kafka.bootstrap_servers,
        )
        await self.on_lost(reason)

    async def _healthy(self) -> None:
        self._failures = 0
        if not self.lost:
            return
        down = round(self._seconds() - self._lost_at, 1)
        self.lost, self.reason = False, None
        log.warning(  # the end of an outage: as visible as its start
            "broker back; service recovering", service=self.settings.service_name, down_seconds=down
        )
        await self.on_back()
