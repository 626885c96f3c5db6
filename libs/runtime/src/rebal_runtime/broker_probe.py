"""What the broker watchdog (`rebal_runtime.watchdog`) asks and decides, apart from its loop: its
settings, the probe that asks the broker for its topics and log-end offsets, and the pure rules
(missing topics, wrong partition counts, offsets that went down, reminder backoff)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from rebal_runtime.backoff import Backoff
from rebal_runtime.kafka_security import aiokafka_security
from rebal_runtime.settings import RuntimeSettings


class WatchdogSettings(BaseSettings):
    """The watchdog's settings (env prefix `REBAL_`, like `RuntimeSettings`)."""

    model_config = SettingsConfigDict(env_prefix="REBAL_", env_file=".env", extra="ignore")

    broker_watch_seconds: float = Field(
        1.0, gt=0, description="How often the watchdog asks the broker for its topics."
    )
    broker_watch_timeout_seconds: float = Field(
        5.0, gt=0, description="A check not answered within this long counts as failed."
    )
    broker_watch_failures: int = Field(
        2, ge=1, description="Failed checks in a row before the service says it is not ready."
    )
    broker_watch_log_max_seconds: float = Field(
        60.0, gt=0, description="Longest interval between 'still unreachable' reminders."
    )


Partition = tuple[str, int]


class TopicsProbe(Protocol):
    async def topics(self) -> dict[str, int]:
        """Every topic of the broker with its partition count; raises when it cannot tell."""

    async def end_offsets(self, topics: dict[str, int]) -> dict[Partition, int]:
        """The log-end offset of every partition of `topics` (name -> partition count)."""

    async def close(self) -> None: ...


class MetadataProbe:
    """A consumer of the watchdog's own, in no group (the services' clients are busy retrying):
    asking for all topics never auto-creates one."""

    def __init__(self, settings: RuntimeSettings, timeout_seconds: float) -> None:
        self.settings = settings
        self.timeout_ms = int(timeout_seconds * 1000)
        self._consumer: Any = None

    async def _started(self) -> Any:
        if self._consumer is None:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self.settings.kafka.bootstrap_servers,
                client_id=f"{self.settings.service_name}-watchdog",
                group_id=None,
                enable_auto_commit=False,
                request_timeout_ms=self.timeout_ms,
                **aiokafka_security(self.settings),
            )
            try:
                await consumer.start()
            except BaseException:
                await consumer.stop()
                raise
            self._consumer = consumer
        return self._consumer

    async def topics(self) -> dict[str, int]:
        consumer = await self._started()
        # the cluster's topics, not only those the consumer tracks (it tracks none)
        cluster = await consumer._client.fetch_all_metadata()
        return {name: len(cluster.partitions_for_topic(name) or ()) for name in cluster.topics()}

    async def end_offsets(self, topics: dict[str, int]) -> dict[Partition, int]:
        consumer = await self._started()
        tps = [TopicPartition(t, p) for t, count in topics.items() for p in range(count)]
        if not tps:
            return {}
        found = await consumer.end_offsets(tps)
        return {(tp.topic, tp.partition): int(offset) for tp, offset in found.items()}

    async def close(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            await consumer.stop()


@dataclass
class ReminderBackoff:
    """When to remind that an outage goes on: after `first`, then at doubling intervals."""

    first: float
    maximum: float
    _next_at: float = field(default=0.0, init=False)
    _reminded: int = field(default=0, init=False)

    def start(self, now: float) -> None:
        self._reminded = 0
        self._next_at = now + self.first  # the first wait as set, even above `maximum`

    def due(self, now: float) -> bool:
        if now < self._next_at:
            return False
        self._reminded += 1
        self._next_at = now + Backoff(self.first, self.maximum).delay(self._reminded)
        return True


@dataclass(frozen=True)
class TopicCheck:
    """What the broker's topics say against the configured ones (pure)."""

    missing: tuple[str, ...]
    wrong_partitions: tuple[tuple[str, int, int], ...]  # (topic, has, configured)

    @classmethod
    def of(cls, present: dict[str, int], wanted: Sequence[tuple[str, int]]) -> TopicCheck:
        missing = tuple(name for name, _ in wanted if name not in present)
        wrong = tuple(
            (name, present[name], parts)
            for name, parts in wanted
            if name in present and present[name] != parts
        )
        return cls(missing, wrong)


def offsets_went_back(before: dict[Partition, int], now: dict[Partition, int]) -> list[Partition]:
    """Partitions whose log-end offset is lower than before: their records were lost (a log
    only grows; retention moves its start, never its end)."""
    return sorted(tp for tp, end in now.items() if end < before.get(tp, 0))
