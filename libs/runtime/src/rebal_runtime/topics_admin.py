"""Topic creation with partitions, and a guard so that the runtime's own clients never get a topic
auto-created (it would get the broker's default partition count, not the configured one).

Kafka creates a missing topic when a client's Metadata request allows it, and aiokafka 0.14 always
allows it (`MetadataRequest` defaults `allow_auto_topic_creation` to True and takes no client
option). Tansu cannot turn auto-creation off (`tansu broker --help` has no such flag), but it does
honour the request's flag. After an embedded-broker restart (empty: memory engine) the services'
retrying clients would otherwise re-create every topic with 4 partitions before anyone could create
them with 6. So the runtime runs its clients in a context where the flag is False
(`refusing_auto_creation`): a missing topic stays missing until `ensure_topics` creates it (the
watchdog does, `rebal_runtime.watchdog`), and the clients' next metadata refresh finds it.
Clients outside that context (tests' producers, tools) keep aiokafka's behaviour.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import Coroutine, Iterable
from typing import Any, TypeVar

import aiokafka.client
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.protocol.metadata import MetadataRequest

from rebal_schemas import ALL_TOPICS

T = TypeVar("T")

_REFUSE_AUTO_CREATION: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "rebal_refuse_topic_auto_creation", default=False
)


class _GuardedMetadataRequest(MetadataRequest):  # type: ignore[misc]  # aiokafka is untyped
    """aiokafka's MetadataRequest, asking for no auto-creation inside `refusing_auto_creation`.
    The flag is read when the request is built: in the task that refreshes the client's metadata,
    which inherited the context of whoever started the client."""

    def __init__(
        self, topics: list[str] | None = None, allow_auto_topic_creation: bool | None = None
    ) -> None:
        if allow_auto_topic_creation is None and _REFUSE_AUTO_CREATION.get():
            allow_auto_topic_creation = False
        super().__init__(topics, allow_auto_topic_creation)


def install_auto_creation_guard() -> None:
    """Idempotent; only clients started inside `refusing_auto_creation` are affected."""
    aiokafka.client.MetadataRequest = _GuardedMetadataRequest


def refusing_auto_creation(coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
    """Run `coro` as a task in a copy of the current context with auto-creation refused: the
    clients it starts, and every task they create, never ask the broker to create a topic."""
    install_auto_creation_guard()
    context = contextvars.copy_context()
    context.run(_REFUSE_AUTO_CREATION.set, True)
    return asyncio.create_task(coro, context=context)


def configured_topics() -> list[tuple[str, int]]:
    """The project's topics with their partition counts (rebal_schemas)."""
    return [(t.name, t.partitions) for t in ALL_TOPICS]


async def ensure_topics(
    bootstrap_servers: str,
    names_and_partitions: Iterable[tuple[str, int]] | None = None,
    replication_factor: int = 1,
    **client_options: Any,
) -> list[str]:
    """Create the missing topics; returns the names created. Safe to call from every service.
    `client_options`: more AIOKafkaAdminClient options (security, timeouts)."""
    wanted = list(names_and_partitions or configured_topics())
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, **client_options)
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
