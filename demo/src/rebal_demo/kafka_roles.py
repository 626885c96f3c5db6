"""Who the demo is on Kafka: each outside party it plays under its own client role.

On a secured broker (README, "Security") the broker's ACLs decide what a principal may write, so
the demo publishes every event as the role that owns its topic in `rebal_runtime.topic_acl`
(portfolios, deposits, models, decisions and manual runs as `client`, fills as `middleware`,
external optimizations as `external-optimizer`, prices as `price-feed`) and reads rebal's public
outputs as `client`. What no client may see, `dead.letter` and the optimizer's committed offsets
(the demo waits on them between phases), it reads as the `operator` (on a secured broker the
`admin` principal). On PLAINTEXT every role is the same connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from rebal_client.kafka import KafkaConnection, Publisher
from rebal_runtime.topic_acl import ADMIN, CLIENT_ROLES, WRITES
from rebal_schemas import Event


class Credentials(Protocol):
    """What a secured launcher (`SecuredApacheKafka`) tells its callers."""

    @property
    def bootstrap_servers(self) -> str: ...

    def credentials(self, principal: str) -> tuple[str, str]: ...


def role_for(topic: str) -> str:
    """The client role that may write `topic` (the first in `CLIENT_ROLES`)."""
    for role in CLIENT_ROLES:
        if topic in WRITES[role]:
            return role
    raise LookupError(f"no client role may write {topic!r}")


@dataclass(frozen=True)
class DemoKafka:
    roles: Mapping[str, KafkaConnection]
    """One connection per client role (`topic_acl.CLIENT_ROLES`)."""
    operator: KafkaConnection

    @classmethod
    def plain(cls, bootstrap_servers: str) -> DemoKafka:
        plain = KafkaConnection(bootstrap_servers)
        return cls(dict.fromkeys(CLIENT_ROLES, plain), plain)

    @classmethod
    def of(cls, kafka: str | DemoKafka) -> DemoKafka:
        return kafka if isinstance(kafka, DemoKafka) else cls.plain(kafka)

    @classmethod
    def secured(cls, launcher: Credentials, mechanism: str = "SCRAM-SHA-512") -> DemoKafka:
        """Every role as its own SCRAM user of `launcher`, the operator as `admin`."""

        def connection(principal: str) -> KafkaConnection:
            user, password = launcher.credentials(principal)
            return KafkaConnection(
                launcher.bootstrap_servers,
                security_protocol="SASL_PLAINTEXT",
                sasl_mechanism=mechanism,
                username=user,
                password=password,
            )

        return cls({role: connection(role) for role in CLIENT_ROLES}, connection(ADMIN))

    @property
    def bootstrap_servers(self) -> str:
        return self.operator.bootstrap_servers


class RolePublisher:
    """`rebal_client.kafka.Publisher`'s interface, each event sent by its topic's role."""

    def __init__(self, kafka: DemoKafka) -> None:
        self._publishers = {role: Publisher(conn) for role, conn in kafka.roles.items()}

    async def __aenter__(self) -> RolePublisher:
        for publisher in self._publishers.values():
            await publisher.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        for publisher in self._publishers.values():
            await publisher.__aexit__(*exc)

    def _by_role(self, events: Iterable[Event]) -> dict[str, list[Event]]:
        grouped: dict[str, list[Event]] = {}
        for event in events:  # order kept within a role, and so within every topic
            grouped.setdefault(role_for(event.TOPIC), []).append(event)
        return grouped

    async def publish_many(self, events: Iterable[Event]) -> int:
        batches = self._by_role(events)
        counts = await asyncio.gather(
            *(self._publishers[role].publish_many(batch) for role, batch in batches.items())
        )
        return sum(counts)

    async def publish_tracked(self, events: Iterable[Event]) -> dict[str, dict[int, int]]:
        batches = self._by_role(events)
        landed = await asyncio.gather(
            *(self._publishers[role].publish_tracked(batch) for role, batch in batches.items())
        )
        ends: dict[str, dict[int, int]] = {}
        for one in landed:  # a topic has one role, so no partition is in two answers
            for topic, partitions in one.items():
                ends.setdefault(topic, {}).update(partitions)
        return ends
