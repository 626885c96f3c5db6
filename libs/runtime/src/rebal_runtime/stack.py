"""The embedded stack as separate processes: a broker + every service that exists + the simulator.

`python -m rebal_runtime.stack` (what `make dev` runs) starts them, prefixes their output, and on
Ctrl-C stops the services first (SIGTERM, graceful) and the broker last. It watches the broker: one
that dies is reported loudly and restarted on the same address (Tansu comes back empty, so its
topics are created with their partitions at once, before a service could find them missing; the
services go not-ready meanwhile and recover by themselves, `rebal_runtime.watchdog`). The broker is Tansu unless
`REBAL_STACK_KAFKA=apache` asks for Apache Kafka (`make kafka-jars` first).

Every process runs with `REBAL_PROFILE=dev`, so the demo/test settings (the `ALWAYS_OPEN`
calendar, ...) are allowed. By default every service runs once (process named after the service)
on its own SQLite file. A `Stack` can also run several instances of a service (`replicas`):
processes `optimizer-1`, `optimizer-2`, ... in one consumer group (same `REBAL_SERVICE_NAME`)
sharing the service's store, each with its own ready file and log; give per-service environment
(`service_overrides`, e.g. a Mongo-wire store URL) and the topics to create before any service
starts (`topics`).
`rebal_runtime.prodlike` assembles the compose topology that way.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rebal_runtime.apache_kafka import ApacheKafka
from rebal_runtime.embedded import EmbeddedKafka, free_port
from rebal_runtime.kafka_launchers import (
    KafkaLauncher,
    client_env,
    kind_from_env,
    launcher,
    log_name,
)
from rebal_runtime.processes import ServiceProcess, runnable, write_private_env
from rebal_runtime.signing import SIGNERS, new_signing_keys, signing_env
from rebal_runtime.topics_admin import configured_topics, ensure_topics

STACK_KAFKA_ENV = "REBAL_STACK_KAFKA"

SERVICES: tuple[tuple[str, str], ...] = (
    ("broker-simulator", "rebal_broker_sim"),
    ("optimizer", "rebal_optimizer"),
    ("order-router", "rebal_order_router"),
    ("settlement-tracker", "rebal_settlement_tracker"),
    ("scheduler", "rebal_scheduler"),
    ("api", "rebal_api"),
)


@dataclass
class Stack:
    """Broker + services. `overrides` add env vars for every service (e.g. demo settings);
    `kafka` is any `KafkaLauncher` (e.g. `kafka_launchers.launcher("apache")`).

    `replicas` runs a service as several processes (`{service}-1`, `{service}-2`, ...; one
    process named after the service when 1, the default) sharing its consumer group and store;
    `service_overrides` adds env vars for every instance of one service, after `overrides`;
    `topics` (name, partitions; default: the project's, `rebal_schemas`) are created before the
    first process starts (pass `REBAL_KAFKA_CREATE_TOPICS=false` too so that no service creates
    any itself)."""

    var_dir: Path
    overrides: Mapping[str, str] = field(default_factory=dict)
    kafka: KafkaLauncher = field(default_factory=lambda: default_kafka())
    processes: list[ServiceProcess] = field(default_factory=list)
    simulator_port: int = 0
    replicas: Mapping[str, int] = field(default_factory=dict)
    service_overrides: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    topics: Sequence[tuple[str, int]] | None = None
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds: `kafka` (broker answering), `topics` (created), `ready` (services started ->
    every one ready, measured by the first `wait_ready`)."""
    signing_keys: Mapping[str, str] = field(
        default_factory=lambda: new_signing_keys(SIGNERS), repr=False
    )
    """Fresh per stack: the order-router signs its fills, the settlement-tracker checks them."""
    simulator_admin_token: str = field(
        default_factory=lambda: secrets.token_urlsafe(24), repr=False
    )
    """The bearer token of the simulator's /admin/* (`simulator_admin_headers()`)."""
    api_port: int = 0
    """The api's HTTP port (`api_url`); 0: a free one, chosen at `start`."""
    api_key: str = field(default_factory=lambda: "rebal-" + secrets.token_hex(8))
    api_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24), repr=False)
    """The api's HTTP Basic credentials, fresh per stack (`api_credentials_file`)."""
    _services_started_at: float | None = field(default=None, init=False, repr=False)

    def instances(self, service: str) -> list[str]:
        """The process names of `service`: itself alone, or `{service}-1` ... `{service}-N`."""
        count = self.replicas.get(service, 1)
        if count < 1:
            raise ValueError(f"replicas[{service!r}] = {count}: at least 1")
        return [service] if count == 1 else [f"{service}-{i}" for i in range(1, count + 1)]

    def simulator_admin_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.simulator_admin_token}"}

    def store_url(self, service: str) -> str:
        """What every instance of `service` uses: one SQLite file per service unless overridden."""
        return self.service_env(service)["REBAL_STORE_URL"]

    def service_env(self, name: str, instance: str | None = None) -> dict[str, str]:
        """The environment of one process of service `name`: `instance` (default `name`) names
        its ready file; the consumer group and the store are the service's, shared by all."""
        return {
            "REBAL_SERVICE_NAME": name,
            "REBAL_PROFILE": "dev",  # an embedded stack may run the demo settings (ALWAYS_OPEN)
            "REBAL_KAFKA_BOOTSTRAP_SERVERS": self.kafka.bootstrap_servers,
            "REBAL_STORE_URL": f"sqlite:///{self.var_dir / (name + '.sqlite')}",
            "REBAL_KAFKA_SESSION_TIMEOUT_MS": "2000",
            **client_env(self.kafka),  # fetch waits on Tansu, idempotent producer on Kafka
            "REBAL_BROKER_BASE_URL": f"http://127.0.0.1:{self.simulator_port}",
            "PYTHONUNBUFFERED": "1",
            "REBAL_READY_FILE": str(self.var_dir / f"{instance or name}.ready"),
            **signing_env(name, self.signing_keys),
            **(
                {"REBAL_SIM_ADMIN_TOKEN": self.simulator_admin_token}
                if name == "broker-simulator"
                else {}
            ),
            **(
                {"REBAL_API_KEY": self.api_key, "REBAL_API_SECRET": self.api_secret}
                if name == "api"
                else {}
            ),
            # The broker here is the simulator, unlimited unless a test limits it: Alpaca's
            # 200 requests a minute (the router's default, for a real broker) would make the
            # demo's thousand portfolios take a quarter of an hour.
            **(
                {"REBAL_BROKER_REQUESTS_PER_MINUTE": "600000", "REBAL_BROKER_MAX_IN_FLIGHT": "64"}
                if name == "order-router"
                else {}
            ),
            **self.overrides,
            **self.service_overrides.get(name, {}),
        }

    def start(self, echo: bool = True, only: tuple[str, ...] | None = None) -> Stack:
        self.var_dir.mkdir(parents=True, exist_ok=True)
        self.kafka.log_path = self.var_dir / log_name(self.kafka)
        began = time.monotonic()
        self.kafka.start()
        self.timings["kafka"] = time.monotonic() - began
        # Before any process starts: the broker simulator's consumer is no ServiceRuntime and
        # would let the broker auto-create market.prices with its default partition count.
        if self.topics is not None or _plain(self.kafka):
            began = time.monotonic()
            asyncio.run(ensure_topics(self.kafka.bootstrap_servers, self._topics()))
            self.timings["topics"] = time.monotonic() - began
        self._services_started_at = time.monotonic()
        self.simulator_port = self.simulator_port or free_port()
        self.admin_token_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_private_env(
            self.admin_token_file,
            {
                "REBAL_SIM_BASE_URL": f"http://127.0.0.1:{self.simulator_port}",
                "REBAL_SIM_ADMIN_TOKEN": self.simulator_admin_token,
            },
        )
        self.api_port = self.api_port or free_port()
        write_private_env(
            self.api_credentials_file,
            {
                "REBAL_API_URL": self.api_url,
                "REBAL_API_KEY": self.api_key,
                "REBAL_API_SECRET": self.api_secret,
            },
        )
        for name, module in SERVICES:
            if (only and name not in only) or not runnable(module):
                continue
            args = []
            if name == "broker-simulator":
                args = [
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.simulator_port),
                    "--db",
                    str(self.var_dir / "broker-simulator.sqlite"),
                ]
            if name == "api":  # ready (its ready file) once it serves HTTP and consumes
                args = ["--host", "127.0.0.1", "--port", str(self.api_port)]
            for instance in self.instances(name):
                proc = ServiceProcess(instance, module, self.service_env(name, instance), args)
                self.ready_file(proc).unlink(missing_ok=True)  # a killed run's stale file
                proc.start(self.var_dir, echo)
                self.processes.append(proc)
        return self

    def ready_file(self, proc: ServiceProcess) -> Path:
        return Path(proc.env.get("REBAL_READY_FILE") or self.var_dir / f"{proc.name}.ready")

    def wait_ready(self, timeout: float = 90.0) -> None:
        """Until every service has its consumers assigned and the simulator answers /health."""
        import urllib.request

        deadline = time.monotonic() + timeout
        for proc in self.processes:
            while True:
                if proc.module == "rebal_broker_sim":
                    try:
                        with urllib.request.urlopen(
                            f"http://127.0.0.1:{self.simulator_port}/health", timeout=1
                        ):
                            break
                    except OSError:
                        pass
                elif self.ready_file(proc).exists():
                    break
                if not proc.alive:
                    raise RuntimeError(f"{proc.name} exited while starting")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{proc.name} not ready after {timeout}s")
                time.sleep(0.1)
        if self._services_started_at is not None and "ready" not in self.timings:
            self.timings["ready"] = time.monotonic() - self._services_started_at

    def kill(self, name: str) -> None:
        """SIGKILL one process (`optimizer`, or `optimizer-2` of a replicated service): no
        graceful shutdown, no final outbox flush, no offset commit."""
        proc = self.process(name)
        proc.signal(signal.SIGKILL)
        if proc.process is not None:
            proc.process.wait(10)
        self.ready_file(proc).unlink(missing_ok=True)

    def restart(self, name: str) -> None:
        proc = self.process(name)
        self.ready_file(proc).unlink(missing_ok=True)
        proc.start(self.var_dir, echo=False)

    def kill_broker(self) -> None:
        """SIGKILL the broker (a crash): Tansu loses everything, Apache Kafka keeps its log."""
        self.kafka.kill()

    def restart_broker(self) -> list[str]:
        """Start the broker again on its address; returns the topics it had to be given back.

        An empty broker gets the topics with their partitions right away: the services' clients
        never auto-create one (`topics_admin.refusing_auto_creation`), and each service's
        watchdog would create them too, but a broker without topics accepts produce requests
        into the void (Tansu), so the shorter that window, the less the services must re-send."""
        self.kafka.restart()
        if self.kafka.keeps_data:
            return []
        return asyncio.run(ensure_topics(self.kafka.bootstrap_servers, self._topics()))

    def _topics(self) -> list[tuple[str, int]]:
        return list(self.topics) if self.topics is not None else configured_topics()

    def supervise_broker(self) -> bool:
        """When the broker died: say so loudly and restart it. False when it runs (nothing
        done); raises when it cannot be restarted."""
        if self.kafka.alive:
            return False
        process = getattr(self.kafka, "process", None)
        code = process.returncode if process is not None else None
        kind = type(self.kafka).__name__
        lost = "keeps its data" if self.kafka.keeps_data else "comes back EMPTY (memory engine)"
        _shout(
            f"the broker ({kind} on {self.kafka.bootstrap_servers}) DIED (exit code {code}); "
            f"every service is not ready until it is back. Restarting it: it {lost}."
        )
        created = self.restart_broker()
        if created:
            _shout(
                f"broker back; {len(created)} topics re-created with their partitions. Records "
                "and committed offsets were lost: the order-router re-reports fills, the "
                "optimizer alarms on runs that stay blocked."
            )
        else:
            _shout("broker back with its data.")
        return True

    def process(self, name: str) -> ServiceProcess:
        found = next((p for p in self.processes if p.name == name), None)
        if found is None:
            raise KeyError(f"no process {name!r}; have {[p.name for p in self.processes]}")
        return found

    @property
    def admin_token_file(self) -> Path:
        """Where `start` leaves the simulator's admin URL and token for a person or a script."""
        return self.var_dir / "broker-simulator-admin.env"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def dashboard_url(self) -> str:
        """The operator dashboard the api serves (the api's HTTP Basic credentials)."""
        return f"{self.api_url}/ui"

    @property
    def api_credentials_file(self) -> Path:
        """Where `start` leaves the api's URL, key and secret (REBAL_API_URL, _KEY, _SECRET)."""
        return self.var_dir / "api.env"

    def describe(self) -> list[str]:
        """Extra lines `run_in_foreground` prints once the stack is ready."""
        lines = [f"broker simulator /admin/*: bearer token in {self.admin_token_file}"]
        if any(p.module == "rebal_api" for p in self.processes):
            lines += [
                f"api: {self.api_url}",
                f"dashboard: {self.dashboard_url}",
                f"api key: {self.api_key}  secret: {self.api_secret}  "
                f"(HTTP Basic; also in {self.api_credentials_file})",
            ]
        return lines

    def stop(self) -> None:
        # Services first (they finish in-flight work and flush their outbox), the broker last.
        for proc in reversed(self.processes):
            proc.signal(signal.SIGTERM)
        for proc in reversed(self.processes):
            proc.stop()
        self.kafka.stop()


def _plain(kafka: KafkaLauncher) -> bool:
    """A broker anyone may create topics on (a secured launcher provisions its own as admin)."""
    return type(kafka) in (EmbeddedKafka, ApacheKafka)


def _shout(message: str) -> None:
    sys.stdout.write(f"{'!! stack':>18} | {message}\n")
    sys.stdout.flush()


def default_kafka() -> KafkaLauncher:
    """Tansu, or what `REBAL_STACK_KAFKA` (tansu | apache) names."""
    return launcher(kind_from_env(STACK_KAFKA_ENV))


def run_in_foreground(stack: Stack, title: str) -> None:
    """Start `stack`, say where Kafka is, and run until Ctrl-C or SIGTERM; then stop it all."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stack.start()
        stack.wait_ready()
        names = ", ".join(p.name for p in stack.processes) or "no services yet"
        print(
            f"{title}: Kafka on {stack.kafka.bootstrap_servers}; {names}. Ctrl-C stops all.",
            flush=True,
        )
        for line in stack.describe():
            print(f"  {line}", flush=True)
        while not stop.is_set():
            try:
                stack.supervise_broker()
            except Exception as exc:
                _shout(f"the broker could not be restarted ({exc!r}); stopping the stack")
                break
            for proc in stack.processes:
                if not proc.alive and proc.process is not None:
                    print(f"{proc.name} exited with {proc.process.returncode}", flush=True)
                    proc.process = None
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        print("stopping...", flush=True)
        stack.stop()
        print("stopped.", flush=True)


def main() -> None:
    var_dir = Path(os.environ.get("REBAL_VAR_DIR", "var/dev"))
    run_in_foreground(Stack(var_dir), "rebal dev stack")


if __name__ == "__main__":
    main()
