"""Apache Kafka in KRaft mode (one process: broker + controller) on free loopback ports.

docs/design.md §5: the real broker of CI's integration, e2e and fault suites without a Docker engine, from
the Maven Central jars that `make kafka-jars` (scripts/fetch-kafka.sh) puts in var/kafka/3.9/libs.
It has what Tansu lacks: idempotent and transactional producers, data on disk, compaction, a
broker that answers a fetch as soon as data arrives. Same interface as `EmbeddedKafka`.

`python -m rebal_runtime.apache_kafka [PORT]` runs one in the foreground until Ctrl-C.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from rebal_runtime.embedded import (
    free_port,
    kill_process_group,
    run_in_foreground,
    stop_process_group,
    wait_answering,
)

JARS_ENV = "REBAL_KAFKA_JARS"
"""Folder holding the broker's jars; default: var/kafka/3.9/libs of the repository."""
DEFAULT_JARS = Path("var/kafka/3.9/libs")
_MARKER = Path("tools/kafka/pom.xml")


class KafkaJarsMissing(RuntimeError):
    """The broker's jars are not where they should be; the message says how to get them."""


def repo_root(start: Path | None = None) -> Path | None:
    """The repository holding tools/kafka/pom.xml: from the working directory up, then from this
    module's file up (an editable install lives inside the repository)."""
    for origin in (start or Path.cwd(), Path(__file__).resolve()):
        for folder in (origin, *origin.parents):
            if (folder / _MARKER).is_file():
                return folder
    return None


def kafka_jars(configured: str | Path | None = None) -> Path:
    """The jar folder: `configured`, else $REBAL_KAFKA_JARS, else the one the script fills."""
    chosen = configured or os.environ.get(JARS_ENV)
    if chosen:
        jars = Path(chosen)
    else:
        root = repo_root()
        if root is None:
            raise KafkaJarsMissing(
                f"Apache Kafka jars: no repository (with {_MARKER}) above {Path.cwd()}; "
                f"set {JARS_ENV} to a folder of Kafka jars, or run `make kafka-jars` in the repo"
            )
        jars = root / DEFAULT_JARS
    if not any(jars.glob("kafka_2.13-*.jar")):
        raise KafkaJarsMissing(
            f"Apache Kafka jars not found in {jars}: run `make kafka-jars` "
            f"(scripts/fetch-kafka.sh; needs Java 17 and Maven) or set {JARS_ENV}"
        )
    return jars


def cluster_id() -> str:
    """A random KRaft cluster id as Kafka writes one (`Uuid.randomUuid`): URL-safe base64 of 16
    bytes without padding, never starting with '-' (the tools would read it as an option)."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


def server_properties(
    *,
    port: int,
    controller_port: int,
    data_dir: Path,
    num_partitions: int,
    message_max_bytes: int,
    extra: Mapping[str, str],
) -> dict[str, str]:
    """One node that is both broker and controller, everything at replication factor 1."""
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{controller_port}",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "log.dirs": str(data_dir),
        # Tansu creates a topic on first use, with 4 partitions: the same here, so a test sees the
        # same topics on either broker (topics_admin.ensure_topics sets the real counts).
        "auto.create.topics.enable": "true",
        "num.partitions": str(num_partitions),
        # Internal topics on one node: replication 1, and one partition each, so the first
        # consumer group or transaction does not wait for 50 partitions to be created.
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "1",
        "share.coordinator.state.topic.replication.factor": "1",  # 4.x; 3.9 ignores it
        "share.coordinator.state.topic.min.isr": "1",
        # A group forms at once instead of waiting 3 s for more members.
        "group.initial.rebalance.delay.ms": "0",
        # The tests and the dev stack use 2 s session timeouts (Kafka's floor is 6 s).
        "group.min.session.timeout.ms": "500",
        # The bad-input tests send 1.1-1.2 MB records (Tansu takes them) to prove that the
        # consumer's own limit dead-letters them: the broker must accept them (default 1 MiB).
        "message.max.bytes": str(message_max_bytes),
        # The log cleaner allocates its whole dedupe buffer (128 MiB by default, a quarter of the
        # heap) when it starts; compacting test-sized topics needs little.
        "log.cleaner.dedupe.buffer.size": str(2 * 1024 * 1024),
    }
    props.update(extra)
    return props


def _write_properties(path: Path, props: Mapping[str, str]) -> None:
    path.write_text("".join(f"{k}={v}\n" for k, v in props.items()))


def _logging_configs(folder: Path, level: str) -> list[str]:
    """Console logging (into `log_path`) for both backends: reload4j (3.9) and log4j2 (4.x)."""
    reload4j = folder / "log4j.properties"
    reload4j.write_text(
        f"log4j.rootLogger={level}, out\n"
        "log4j.appender.out=org.apache.log4j.ConsoleAppender\n"
        "log4j.appender.out.layout=org.apache.log4j.PatternLayout\n"
        "log4j.appender.out.layout.ConversionPattern=[%d] %p %m (%c)%n\n"
        "log4j.logger.kafka.request.logger=WARN\n"
        "log4j.logger.state.change.logger=WARN\n"
    )
    log4j2 = folder / "log4j2.properties"
    log4j2.write_text(
        "status = warn\n"
        "appender.out.type = Console\n"
        "appender.out.name = out\n"
        "appender.out.layout.type = PatternLayout\n"
        "appender.out.layout.pattern = [%d] %p %m (%c)%n\n"
        f"rootLogger.level = {level}\n"
        "rootLogger.appenderRef.out.ref = out\n"
        "logger.request.name = kafka.request.logger\n"
        "logger.request.level = WARN\n"
    )
    return [f"-Dlog4j.configuration={reload4j.as_uri()}", f"-Dlog4j2.configurationFile={log4j2}"]


def java() -> str:
    home = os.environ.get("JAVA_HOME")
    found = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not found or not Path(found).exists():
        raise RuntimeError("Apache Kafka needs Java 17 (`java` on PATH or JAVA_HOME)")
    return found


@dataclass
class ApacheKafka:
    """A running Apache Kafka. Use `start()`/`stop()` or `with ApacheKafka() as k`.

    Its data lives in `work_dir`, or in a temporary folder removed by `stop()` (a fresh, empty
    broker each start, as Tansu is). `kill()` + `restart()` keep the data (same folder, same
    cluster id, same ports): a broker that crashed and came back with its log."""

    port: int = 0
    log_path: Path | None = None
    controller_port: int = 0
    num_partitions: int = 4
    message_max_bytes: int = 8 * 1024 * 1024
    jars: Path | None = None
    work_dir: Path | None = None
    heap: str = "512m"
    log_level: str = "INFO"
    config: Mapping[str, str] = field(default_factory=dict)
    """Extra server.properties entries; they win over the launcher's."""
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)
    _temp_dir: Path | None = field(default=None, init=False, repr=False)
    _cluster_id: str = field(default_factory=lambda: cluster_id(), init=False, repr=False)

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 90.0) -> ApacheKafka:
        jars = kafka_jars(self.jars)  # before anything else: the clearest error first
        self.port = self.port or free_port()
        self.controller_port = self.controller_port or free_port()
        folder = self._folder()
        data = folder / "data"
        props_file = folder / "server.properties"
        _write_properties(
            props_file,
            server_properties(
                port=self.port,
                controller_port=self.controller_port,
                data_dir=data,
                num_partitions=self.num_partitions,
                message_max_bytes=self.message_max_bytes,
                extra={**self._extra_properties(), **self.config},
            ),
        )
        classpath = ["-cp", f"{jars}/*", *_logging_configs(folder, self.log_level)]
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            self._format(classpath, props_file, log, timeout)
            self.process = subprocess.Popen(
                [
                    java(),
                    f"-Xmx{self.heap}",
                    f"-Xms{self.heap}",
                    "-XX:+ExitOnOutOfMemoryError",
                    "-Djava.awt.headless=true",
                    *classpath,
                    "kafka.Kafka",
                    str(props_file),
                ],
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C in a terminal goes to us; we stop it ourselves
            )
        finally:
            if not isinstance(log, int):
                log.close()  # the children have their own copies
        try:
            self._wait_ready(timeout)
        except Exception as exc:
            self.stop()
            raise type(exc)(f"{exc}{self._log_hint()}") from exc
        return self

    # Hooks of the secured mode (rebal_runtime.apache_kafka_security); plain Kafka adds nothing.

    def _extra_properties(self) -> dict[str, str]:
        """server.properties entries over the launcher's own (`config` still wins)."""
        return {}

    def _format_options(self) -> list[str]:
        """More `kafka-storage format` options (e.g. `--add-scram`)."""
        return []

    def _wait_ready(self, timeout: float) -> None:
        """Returns once the broker serves clients."""
        wait_answering(self.process, self.bootstrap_servers, timeout, "apache kafka")

    def _folder(self) -> Path:
        if self.work_dir is not None:
            self.work_dir.mkdir(parents=True, exist_ok=True)
            return self.work_dir
        if self._temp_dir is None:  # a restart keeps the temporary folder (and its data)
            self._temp_dir = Path(tempfile.mkdtemp(prefix="rebal-kafka-"))
        return self._temp_dir

    def _format(
        self, classpath: list[str], props_file: Path, log: IO[bytes] | int, timeout: float
    ) -> None:
        """`kafka-storage format`: KRaft refuses to start on an unformatted log dir. A short-lived
        JVM, so a small heap and only the quick JIT; `--ignore-formatted` keeps a `work_dir`'s
        data across starts."""
        result = subprocess.run(
            [
                java(),
                "-Xmx256m",
                "-XX:TieredStopAtLevel=1",
                "-XX:+UseSerialGC",
                *classpath,
                "kafka.tools.StorageTool",
                "format",
                "--cluster-id",
                self._cluster_id,
                "--config",
                str(props_file),
                "--ignore-formatted",
                *self._format_options(),
            ],
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            self._remove_temp_dir()
            raise RuntimeError(
                f"kafka storage format exited with {result.returncode}{self._log_hint()}"
            )

    def _log_hint(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return " (pass log_path to see the broker's output)"
        tail = self.log_path.read_text(errors="replace").splitlines()[-15:]
        return f"; last lines of {self.log_path}:\n" + "\n".join(tail)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM (Kafka's controlled shutdown: flushes and closes its logs), SIGKILL after
        `timeout`; then the temporary data folder goes."""
        proc, self.process = self.process, None
        try:
            stop_process_group(proc, timeout)
        finally:
            self._remove_temp_dir()

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def keeps_data(self) -> bool:
        return True

    def kill(self) -> None:
        """SIGKILL, as a crash: the data stays (the log recovers on the next start)."""
        kill_process_group(self.process)

    def restart(self, timeout: float = 90.0) -> ApacheKafka:
        """Start again on the same ports and data (after `kill()` or a crash)."""
        self.kill()
        self.process = None
        return self.start(timeout)

    def _remove_temp_dir(self) -> None:
        folder, self._temp_dir = self._temp_dir, None
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)

    def __enter__(self) -> ApacheKafka:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    """`python -m rebal_runtime.apache_kafka [PORT]`: run the broker in the foreground until Ctrl-C."""
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 9092
    started = time.monotonic()
    kafka = ApacheKafka(port=port).start()
    run_in_foreground(
        kafka,
        f"Apache Kafka on {kafka.bootstrap_servers} (ready in {time.monotonic() - started:.1f} s)",
    )


if __name__ == "__main__":
    main()
