"""Which Kafka the project starts: Tansu (`EmbeddedKafka`, no Java) or Apache Kafka (`ApacheKafka`).

Both start on free loopback ports and stop cleanly; everything that starts a broker (the dev stack,
the pytest plugin, the e2e suites) takes a `KafkaLauncher`, so the choice is one word.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal, Protocol, get_args

from rebal_runtime.apache_kafka import ApacheKafka
from rebal_runtime.embedded import EmbeddedKafka

KafkaKind = Literal["tansu", "apache"]
KINDS: tuple[KafkaKind, ...] = get_args(KafkaKind)


class KafkaLauncher(Protocol):
    """A broker the project runs itself: `start()` returns once it answers Kafka requests."""

    port: int
    log_path: Path | None

    @property
    def bootstrap_servers(self) -> str: ...

    @property
    def alive(self) -> bool:
        """Its process runs (False before start, after stop, and once it died)."""

    def kill(self) -> None:
        """SIGKILL, as a crash."""

    def restart(self, timeout: float = ...) -> KafkaLauncher:
        """Start again on the same address: Apache Kafka with its data, Tansu empty."""

    @property
    def keeps_data(self) -> bool:
        """Whether a restart keeps topics, records and offsets."""

    def start(self, timeout: float = ...) -> KafkaLauncher: ...

    def stop(self, timeout: float = ...) -> None: ...

    def __enter__(self) -> KafkaLauncher: ...

    def __exit__(self, *exc: object) -> None: ...


def parse_kind(value: str) -> KafkaKind:
    """`value` checked against the known kinds (a typo fails here, not as a missing broker)."""
    kind = value.strip().lower()
    if kind not in KINDS:
        raise ValueError(f"unknown Kafka kind {value!r}; expected one of {', '.join(KINDS)}")
    return kind


def kind_from_env(variable: str, default: KafkaKind = "tansu") -> KafkaKind:
    return parse_kind(os.environ.get(variable) or default)


def launcher(kind: str, **kw: Any) -> KafkaLauncher:
    """A not yet started broker of `kind`; `kw` go to its constructor (port, log_path, ...)."""
    if parse_kind(kind) == "apache":
        return ApacheKafka(**kw)
    return EmbeddedKafka(**kw)


def client_env(kafka: KafkaLauncher) -> dict[str, str]:
    """What services need to know about this broker (env vars, before any override).

    Tansu answers an empty fetch only after the whole fetch wait, so a short one keeps every hop
    fast (README, "Benchmarks"), and it cannot do idempotent producers. Apache Kafka answers as
    soon as data arrives, so it keeps Kafka's default wait, and runs the idempotent producer as
    production does (docs/design.md §4)."""
    if isinstance(kafka, EmbeddedKafka):
        return {
            "REBAL_KAFKA_FETCH_MAX_WAIT_MS": "50",
            # The optimizer's entry topics (its batch subscribers) poll faster: the first hop of
            # every request, without every idle consumer of the stack polling that fast.
            "REBAL_KAFKA_ENTRY_FETCH_MAX_WAIT_MS": "10",
        }
    return {"REBAL_KAFKA_IDEMPOTENT_PRODUCER": "true"}


def log_name(kafka: KafkaLauncher) -> str:
    """The broker's log file name in a var dir (`tansu.log` stays where it always was)."""
    return "tansu.log" if isinstance(kafka, EmbeddedKafka) else "kafka.log"
