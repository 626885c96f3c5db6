"""pytest plugin: `kafka` (one embedded Tansu per session), `fresh_kafka` (one per test),
`kafka_settings` (runtime settings with a unique consumer group and a SQLite file per test)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from rebal_runtime.embedded import EmbeddedKafka
from rebal_runtime.settings import RuntimeSettings


@pytest.fixture(scope="session")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedKafka]:
    log = tmp_path_factory.mktemp("tansu") / "tansu.log"
    with EmbeddedKafka(log_path=log) as broker:
        yield broker


@pytest.fixture
def fresh_kafka(tmp_path: Path) -> Iterator[EmbeddedKafka]:
    """An empty broker of its own, for tests that must see only their own messages."""
    with EmbeddedKafka(log_path=tmp_path / "tansu.log") as broker:
        yield broker


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def settings_for(
    bootstrap: str, tmp_path: Path, service: str, **overrides: object
) -> RuntimeSettings:
    values: dict[str, object] = {
        "service_name": unique(service),
        "kafka_bootstrap_servers": bootstrap,
        "store_url": f"sqlite:///{tmp_path / (service + '.sqlite')}",
        "retry_backoff_seconds": 0.01,
        "retry_backoff_max_seconds": 0.1,
        "graceful_timeout_seconds": 5.0,
        "outbox_poll_seconds": 0.05,
        "log_format": "console",
        "kafka_session_timeout_ms": 2000,
        "kafka_fetch_max_wait_ms": 50,
    }
    values.update(overrides)
    return RuntimeSettings(**values)  # type: ignore[arg-type]


def docker_unavailable_reason() -> str | None:
    """None when a Docker engine answers, else why not (the skip reason)."""
    import shutil

    if shutil.which("docker") is None:
        return "no docker client installed"
    try:
        import docker

        docker.from_env().ping()
    except Exception as exc:
        return f"no Docker engine reachable ({type(exc).__name__})"
    return None


@dataclass
class ExternalKafka:
    bootstrap_servers: str


@pytest.fixture(scope="session")
def apache_kafka() -> Iterator[ExternalKafka]:
    """A real Apache Kafka (KRaft) through testcontainers; skipped with the reason when no Docker."""
    reason = docker_unavailable_reason()
    if reason:
        pytest.skip(f"real Apache Kafka needs testcontainers and Docker: {reason}")
    from testcontainers.kafka import KafkaContainer

    with KafkaContainer("confluentinc/cp-kafka:7.6.1").with_kraft() as container:
        yield ExternalKafka(container.get_bootstrap_server())
