"""pytest plugin: the broker of the session and settings for tests that use it.

- `--kafka-broker=tansu|apache` (default `$REBAL_TEST_KAFKA`, else `tansu`) picks the broker of the
  whole session: the `kafka` fixture (one per session), `fresh_kafka` (one per test) and, through
  `stack_kafka(config)`, the e2e suites' stacks. `kafka_kind` tells a test which one it got.
- `apache_kafka`: Apache Kafka specifically (marker `apache_kafka`), for what Tansu cannot do
  (idempotent and transactional producers); it is the session's `kafka` when that is Apache.
- `settings_for`: runtime settings with a unique consumer group and a SQLite file per test (the
  idempotent producer on when the broker is Apache Kafka); `unique`: a unique id.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar, cast

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from rebal_runtime.apache_kafka import ApacheKafka
from rebal_runtime.kafka_launchers import (
    KINDS,
    KafkaKind,
    KafkaLauncher,
    launcher,
    log_name,
    parse_kind,
)
from rebal_runtime.settings import RuntimeSettings
from rebal_runtime.topics_admin import ensure_topics
from rebal_schemas import ALL_TOPICS

L = TypeVar("L", bound=KafkaLauncher)
TEST_KAFKA_ENV = "REBAL_TEST_KAFKA"
_OPTION = "--kafka-broker"

# Bootstrap addresses of the Apache brokers this plugin started: `settings_for` switches the
# idempotent producer on for them, as production runs it (Tansu cannot answer InitProducerId).
_APACHE_BOOTSTRAPS: set[str] = set()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        _OPTION,
        choices=KINDS,
        default=None,
        help=f"broker of the session's kafka/fresh_kafka fixtures and e2e stacks "
        f"(default: ${TEST_KAFKA_ENV}, else tansu); apache needs `make kafka-jars`",
    )


def broker_kind(config: pytest.Config) -> KafkaKind:
    """The session's broker: `--kafka-broker`, else `$REBAL_TEST_KAFKA`, else tansu."""
    chosen = cast(str | None, config.getoption(_OPTION))
    return parse_kind(chosen or os.environ.get(TEST_KAFKA_ENV) or "tansu")


def stack_kafka(config: pytest.Config) -> KafkaLauncher:
    """A not yet started broker of the session's kind, for `Stack(..., kafka=stack_kafka(config))`
    (the stack starts and stops it, and names its log in its var dir)."""
    return launcher(broker_kind(config))


@pytest.fixture(scope="session")
def kafka_kind(pytestconfig: pytest.Config) -> KafkaKind:
    """`"tansu"` or `"apache"`: the broker behind `kafka` and `fresh_kafka` in this session."""
    return broker_kind(pytestconfig)


def _running(broker: L, folder: Path) -> Iterator[L]:
    broker.log_path = folder / log_name(broker)
    with broker:
        if isinstance(broker, ApacheKafka):
            _APACHE_BOOTSTRAPS.add(broker.bootstrap_servers)
            asyncio.run(_create_project_topics(broker.bootstrap_servers))
        try:
            yield broker
        finally:
            _APACHE_BOOTSTRAPS.discard(broker.bootstrap_servers)


@pytest.fixture(scope="session")
def kafka(
    kafka_kind: KafkaKind, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KafkaLauncher]:
    """One broker for the whole session (tests keep apart by unique ids and consumer groups)."""
    yield from _running(launcher(kafka_kind), tmp_path_factory.mktemp("kafka"))


@pytest.fixture
def fresh_kafka(kafka_kind: KafkaKind, tmp_path: Path) -> Iterator[KafkaLauncher]:
    """An empty broker of its own, for tests that must see only their own messages."""
    yield from _running(launcher(kafka_kind), tmp_path)


@pytest.fixture(scope="session")
def apache_kafka(
    kafka_kind: KafkaKind, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApacheKafka]:
    """Apache Kafka (KRaft, from the Maven Central jars) for the session: the session's `kafka`
    when that is Apache already (one JVM, not two), else one of its own. Fails with 'run
    `make kafka-jars`' when the jars are missing: a skip would hide a broken CI setup."""
    if kafka_kind == "apache":
        yield cast(ApacheKafka, request.getfixturevalue("kafka"))
    else:
        yield from _running(ApacheKafka(), tmp_path_factory.mktemp("apache"))


async def _create_project_topics(bootstrap: str, timeout: float = 30.0) -> None:
    """Every project topic, created and visible in the broker's metadata, before tests run.

    Kafka answers CreateTopics once the controller committed it; the broker's own metadata
    follows a moment later, so a test that reads a topic right after `ensure_topics` could find
    it missing (Tansu's metadata is immediate). A deployment creates its topics before any
    service starts too (deploy/docker-compose.yml)."""
    await ensure_topics(bootstrap)
    wanted = {t.name: t.partitions for t in ALL_TOPICS}
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            described = await admin.describe_topics(list(wanted))
            seen = {t["topic"]: len(t["partitions"]) for t in described if t.get("error_code") == 0}
            if all(seen.get(name) == parts for name, parts in wanted.items()):
                return
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"topics not in the metadata after {timeout}s: {seen}")
            await asyncio.sleep(0.05)
    finally:
        await admin.close()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def settings_for(
    bootstrap: str, tmp_path: Path, service: str, **overrides: object
) -> RuntimeSettings:
    values: dict[str, object] = {
        "service_name": unique(service),
        "profile": "dev",  # tests may use the demo/test settings (ALWAYS_OPEN, ...)
        "kafka_bootstrap_servers": bootstrap,
        "store_url": f"sqlite:///{tmp_path / (service + '.sqlite')}",
        "retry_backoff_seconds": 0.01,
        "retry_backoff_max_seconds": 0.1,
        "graceful_timeout_seconds": 5.0,
        "outbox_poll_seconds": 0.05,
        "log_format": "console",
        "kafka_session_timeout_ms": 2000,
        "kafka_fetch_max_wait_ms": 50,
        "kafka_idempotent_producer": bootstrap in _APACHE_BOOTSTRAPS,
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
