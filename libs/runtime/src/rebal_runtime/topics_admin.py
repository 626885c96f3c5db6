"""Topic creation with partitions (auto-created topics would get the broker's default count)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from rebal_schemas import ALL_TOPICS


async def ensure_topics(
    bootstrap_servers: str,
    names_and_partitions: Iterable[tuple[str, int]] | None = None,
    replication_factor: int = 1,
) -> list[str]:
    """Create the missing topics; returns the names created. Safe to call from every service."""
    wanted = list(names_and_partitions or ((t.name, t.partitions) for t in ALL_TOPICS))
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        new = [
            NewTopic(name=name, num_partitions=parts, replication_factor=replication_factor)
            for name, parts in wanted
            if name not in existing
        ]
        if new:
            with contextlib.suppress(TopicAlreadyExistsError):  # another service was first
                await admin.create_topics(new)
            await _until_in_metadata(admin, {t.name: t.num_partitions for t in new})
        return [t.name for t in new]
    finally:
        await admin.close()


async def _until_in_metadata(
    admin: AIOKafkaAdminClient, wanted: dict[str, int], timeout: float = 30.0
) -> None:
    """Apache Kafka answers CreateTopics once its controller committed the topics; the broker's
    metadata has them a moment later, so a reader right after could find them missing (Tansu's
    metadata is immediate). Returns once every topic shows its partitions."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        described = await admin.describe_topics(list(wanted))
        seen = {t["topic"]: len(t["partitions"]) for t in described if t.get("error_code") == 0}
        if all(seen.get(name) == parts for name, parts in wanted.items()):
            return
        if loop.time() > deadline:
            raise TimeoutError(f"topics not in the metadata after {timeout}s: {sorted(seen)}")
        await asyncio.sleep(0.05)
