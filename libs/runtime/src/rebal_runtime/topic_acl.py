"""Who may write and read which topic (docs/design.md §2 producer column, §4 "Who may write what").

The `producer` field of an event is self-declared and proves nothing: the broker decides, by the
authenticated principal (one per service, one per client role) and these Kafka ACLs. This module is
the one table of them, as data: the secured Apache Kafka launcher
(`rebal_runtime.apache_kafka_security`) applies it, `kafka-acls` commands are rendered from it
(deployments), the README's "Security" table is generated from it, and
`tests/unit/test_topic_acl.py` checks it against the producer column of docs/design.md §2 and the README.

Writes are the design's (docs/design.md §2), topic by topic. Reads are kept simple and correct: a service may read every
topic with its own consumer group (`group_id = settings.service_name` for every FastStream
subscriber, `rebal_runtime.broker.subscriber_options`); the broker simulator reads only the
prices; a client role reads the public output topics with any consumer group whose name starts
with its principal (`client-...`, `middleware-...`).

ACLs are only made for topics that exist (`rebal_schemas.ALL_TOPICS`); a design topic not in
`rebal_schemas` yet goes in `PLANNED_TOPICS`, so it gets its ACLs the day it is added there.
`python -m rebal_runtime.topic_acl` prints the README table;
`--kafka-acls` prints the `kafka-acls` commands.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import IntEnum

from rebal_schemas import ALL_TOPICS

# --- principals -------------------------------------------------------------------------------

SERVICES: tuple[str, ...] = (
    "optimizer",
    "order-router",
    "settlement-tracker",
    "scheduler",
    "broker-simulator",
    "api",
)
"""One SCRAM user per service; its name is also its consumer group (`REBAL_SERVICE_NAME`)."""
CLIENT_ROLES: tuple[str, ...] = ("client", "external-optimizer", "middleware", "price-feed")
"""One SCRAM user per kind of outside party (a platform's clients share their role's user)."""
PRINCIPALS: tuple[str, ...] = SERVICES + CLIENT_ROLES

ADMIN = "admin"
"""Super user: creates topics and ACLs (the launcher, a deployment's one-shot jobs). No service."""
BROKER = "broker"
"""Super user: the broker's own principal on its SASL listener (inter-broker)."""

# --- topics -----------------------------------------------------------------------------------

PLANNED_TOPICS: tuple[str, ...] = ()
"""Topics of docs/design.md §2 that `rebal_schemas` does not have yet: in the table, no ACL until they exist."""

PUBLIC_OUTPUTS: tuple[str, ...] = (
    "optimization.created",
    "optimization.ready",  # the CLIENT middleware executes these orders
    "transaction.settled",
    "run.completed",
    "run.status_changed",
    "run.settled",
    "model.status_changed",
    "request.rejected",
)
"""What rebal tells its clients; every client role may read these."""

_DEAD_LETTER = "dead.letter"

WRITES: Mapping[str, tuple[str, ...]] = {
    # services: docs/design.md §1 "produces" and §2 "producer"; every service but the simulator may
    # dead-letter what it consumes.
    "optimizer": (
        "optimization.created",
        "optimization.ready",
        "rebalance.requested",  # its own fan-out (one scope-portfolio request per portfolio)
        "model.status_changed",
        "request.rejected",
        _DEAD_LETTER,
    ),
    # PLATFORM integration; "the start of execution" it tells the settlement-tracker (docs/design.md
    # §1) is run.execution (queued, started, stopped); run.status_changed stays the tracker's alone.
    "order-router": ("order.filled", "order.closed", "run.execution", _DEAD_LETTER),
    "settlement-tracker": (
        "run.status_changed",
        "transaction.settled",
        "run.completed",
        "run.settled",
        "request.rejected",  # a cancel of a final or unknown run
        _DEAD_LETTER,
    ),
    "scheduler": ("rebalance.requested", _DEAD_LETTER),
    "broker-simulator": (),  # it only reads market.prices (and skips what it cannot decode)
    # The api service is a client like any other (docs/design.md §1), written by us.
    "api": (
        "model.updated",
        "portfolio.patched",
        "rebalance.requested",
        "optimization.decided",
        "run.cancel_requested",
        _DEAD_LETTER,
    ),
    # client roles
    "client": (
        "portfolio.patched",
        "model.updated",
        "rebalance.requested",  # manual runs
        "optimization.decided",
        "run.cancel_requested",
    ),
    "external-optimizer": ("optimization.submitted",),
    "middleware": ("order.filled", "order.closed"),  # CLIENT integration: the client's broker
    "price-feed": ("market.prices",),
}

EVERY_TOPIC: tuple[str, ...] = ("*",)
"""In `READS`: every topic that exists (literal ACLs per topic, not a wildcard ACL)."""

READS: Mapping[str, tuple[str, ...]] = {
    **{service: EVERY_TOPIC for service in SERVICES if service != "broker-simulator"},
    "broker-simulator": ("market.prices",),
    **{role: PUBLIC_OUTPUTS for role in CLIENT_ROLES},
}


def group_of(principal: str) -> tuple[str, bool]:
    """The consumer group name a principal may use and whether it is a prefix: a service uses
    exactly its name (FastStream's `group_id` for all its subscribers), a client role any group
    starting with its name."""
    return principal, principal in CLIENT_ROLES


# --- queries ----------------------------------------------------------------------------------


def existing_topics() -> tuple[str, ...]:
    return tuple(t.name for t in ALL_TOPICS)


def table_topics() -> tuple[str, ...]:
    """Every topic the table names: the existing ones, then the planned ones."""
    return existing_topics() + tuple(t for t in PLANNED_TOPICS if t not in existing_topics())


def writers(topic: str) -> tuple[str, ...]:
    return tuple(p for p in PRINCIPALS if topic in WRITES[p])


def reads(principal: str, topics: Iterable[str] | None = None) -> tuple[str, ...]:
    """The topics (of `topics`, default: the existing ones) `principal` may read."""
    names = tuple(topics) if topics is not None else existing_topics()
    allowed = READS[principal]
    return names if allowed == EVERY_TOPIC else tuple(t for t in names if t in allowed)


def readers(topic: str) -> tuple[str, ...]:
    return tuple(p for p in PRINCIPALS if topic in reads(p, [topic]))


# --- ACL bindings -----------------------------------------------------------------------------


class ResourceType(IntEnum):
    """Kafka's wire codes (org.apache.kafka.common.resource.ResourceType)."""

    TOPIC = 2
    GROUP = 3


class PatternType(IntEnum):
    """org.apache.kafka.common.resource.PatternType"""

    LITERAL = 3
    PREFIXED = 4


class Operation(IntEnum):
    """org.apache.kafka.common.acl.AclOperation. READ and WRITE imply DESCRIBE (metadata,
    offsets); since Kafka 3.0 WRITE on any topic also allows the idempotent producer."""

    READ = 3
    WRITE = 4


ALLOW = 3
"""org.apache.kafka.common.acl.AclPermissionType.ALLOW (no DENY rule is needed: nothing is
allowed without an ACL, `allow.everyone.if.no.acl.found=false`)."""


@dataclass(frozen=True, order=True)
class AclBinding:
    principal: str
    """The SCRAM user, without `User:`."""
    resource_type: ResourceType
    resource_name: str
    pattern_type: PatternType
    operation: Operation
    host: str = "*"

    @property
    def kafka_principal(self) -> str:
        return f"User:{self.principal}"


def bindings(
    principals: Iterable[str] = PRINCIPALS, topics: Iterable[str] | None = None
) -> list[AclBinding]:
    """Every ALLOW ACL of the table for `principals`, on `topics` (default: those that exist)."""
    names = tuple(topics) if topics is not None else existing_topics()
    out: list[AclBinding] = []
    for principal in principals:
        for topic in names:
            if topic in WRITES[principal]:
                out.append(_topic(principal, topic, Operation.WRITE))
        for topic in reads(principal, names):
            out.append(_topic(principal, topic, Operation.READ))
        group, prefixed = group_of(principal)
        pattern = PatternType.PREFIXED if prefixed else PatternType.LITERAL
        out.append(AclBinding(principal, ResourceType.GROUP, group, pattern, Operation.READ))
    return out


def _topic(principal: str, topic: str, operation: Operation) -> AclBinding:
    return AclBinding(principal, ResourceType.TOPIC, topic, PatternType.LITERAL, operation)


def kafka_acls_commands(
    principals: Iterable[str] = PRINCIPALS, topics: Iterable[str] | None = None
) -> list[list[str]]:
    """The same ACLs as `kafka-acls` argument lists (after `--bootstrap-server ...
    --command-config ...`), batched: one command per principal and kind of access (a JVM start
    each, ~1.7 s here; the launcher sends them all in one CreateAcls request instead)."""
    commands: list[list[str]] = []
    names = tuple(topics) if topics is not None else existing_topics()
    for principal in principals:
        allow = ["--add", "--allow-principal", f"User:{principal}"]
        written = [t for t in names if t in WRITES[principal]]
        if written:
            commands.append([*allow, "--operation", "Write", *_each("--topic", written)])
        group, prefixed = group_of(principal)
        pattern = ["--resource-pattern-type", "prefixed"] if prefixed else []
        read = reads(principal, names)
        if prefixed:  # one pattern type per command: the literal topics, then the group
            if read:
                commands.append([*allow, "--operation", "Read", *_each("--topic", read)])
            commands.append([*allow, "--operation", "Read", "--group", group, *pattern])
        else:
            commands.append(
                [*allow, "--operation", "Read", *_each("--topic", read), "--group", group]
            )
    return commands


def _each(option: str, values: Iterable[str]) -> list[str]:
    return [part for value in values for part in (option, value)]


# --- documentation ----------------------------------------------------------------------------


def markdown_table() -> str:
    """The README "Security" table: every topic of the table, who may write it, who may read it
    besides the services that read every topic."""
    everything = [p for p in PRINCIPALS if READS[p] == EVERY_TOPIC]
    lines = [
        "| topic | may write | may also read (every topic: "
        + ", ".join(f"`{p}`" for p in everything)
        + ") |",
        "|---|---|---|",
    ]
    for topic in table_topics():
        planned = "" if topic in existing_topics() else " (planned)"
        who = ", ".join(f"`{p}`" for p in writers(topic)) or "nobody"
        also = ", ".join(f"`{p}`" for p in readers(topic) if p not in everything) or "-"
        lines.append(f"| `{topic}`{planned} | {who} | {also} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args == ["--kafka-acls"]:
        for command in kafka_acls_commands():
            print(
                'kafka-acls --bootstrap-server "$BOOTSTRAP" --command-config "$ADMIN_CONFIG"',
                shlex.join(command),
            )
        return
    sys.stdout.write(markdown_table())


if __name__ == "__main__":
    main()
