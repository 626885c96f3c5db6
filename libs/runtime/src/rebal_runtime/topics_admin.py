"""Topic creation with partitions (auto-created topics would get the broker's default count)."""

from __future__ import annotations

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
        return [t.name for t in new]
    finally:
        await admin.close()
