"""The compose topology (deploy/docker-compose.yml) as processes, without a Docker engine (docs/design.md §5).

`python -m rebal_runtime.prodlike` (what `make prod-like` runs; `make kafka-jars` and `make ferretdb`
first) starts it in the foreground; Ctrl-C stops the services first, then Kafka, then FerretDB.

- **Apache Kafka** (KRaft) **secured** as compose is (`SecuredApacheKafka`): one SASL_PLAINTEXT
  SCRAM-SHA-512 listener on loopback, the `StandardAuthorizer` with nothing allowed without an
  ACL, and the ACLs of `rebal_runtime.topic_acl`. Each service process authenticates as its own
  principal (its service name: `optimizer`, `order-router`, `settlement-tracker`, `scheduler`,
  `broker-simulator`; the twins of a pair share it), with passwords generated per start. Automatic
  topic creation is off: the launcher creates every topic as `admin` before any service starts,
  with the compose counts (12 partitions each, `dead.letter` 1); no service may create one
  (`REBAL_KAFKA_CREATE_TOPICS=false`). The **idempotent producer** is on
  (`REBAL_KAFKA_IDEMPOTENT_PRODUCER=true`). The credentials of every principal (services, client
  roles, `admin`) are written to `REBAL_VAR_DIR/credentials/<principal>.env` (mode 0600) for the
  `rebal` CLI and other clients: `set -a; . var/prod-like/credentials/client.env`.
- **Two instances** of each scalable service (optimizer, order-router, settlement-tracker):
  processes `optimizer-1` and `optimizer-2` in one consumer group (same `REBAL_SERVICE_NAME`)
  sharing ONE store, each with its own ready file and log.
- **Stores.** A pair shares one **SQLite** file per service (WAL). SQLite is safe across
  processes: every commit, claim and settle is a `BEGIN IMMEDIATE` transaction under the file's
  single writer lock. The pairs do not share a FerretDB database because FerretDB's conditional
  updates are not atomic (docs/design.md §5: two commits on the same version can both
  succeed), so two writers of one document could lose a write. The pairs run with
  `REBAL_STORE_SQLITE_INLINE=false`: the twin process holds the write lock for the length of its
  transactions (a batch of up to 500 commits, and longer whenever it is descheduled on a busy
  machine), and a process that waits for that lock waits in SQLite's busy handler (up to the 5 s
  busy timeout). Inline, that wait would stop the whole event loop (heartbeats of a 2 s session,
  the relay, every other partition); on the store's worker thread only that store call waits.
  The thread hop costs nothing measurable here (a 150-portfolio demo day: 33.1 s off, 34.8 s on,
  no lock error either way), so the worst case decides.
- The single **scheduler** uses the **Mongo-wire** store on FerretDB (`REBAL_STORE_URL=
  mongodb://127.0.0.1:PORT/`, database `scheduler`): one process, so no concurrent writer of a
  document, and the MongoDB adapter runs in the topology too.
- One **broker simulator**, as in the embedded stack, but with credentials as in compose: its
  `/admin/*` endpoints need their own bearer token (`simulator_admin_token`, also in
  `credentials/broker-simulator-admin.env`) and its trading API keys (shared with the
  order-router) are generated, not the defaults (`REBAL_SIM_REQUIRE_AUTH=true`).
- The services run with **`REBAL_PROFILE=prod`**, as in compose (the embedded stack runs `dev`):
  demo/test settings such as the `ALWAYS_OPEN` calendar are refused unless `overrides` (the demo's
  environment) set `REBAL_PROFILE=dev` too.

Every start is a fresh topology: Kafka's log dirs are a temporary folder removed on stop, and
`main()` first clears what the last run left in `REBAL_VAR_DIR` (default `var/prod-like`: the
SQLite files, FerretDB's data, ready files and logs), so the stores never hold state that the new
broker's topics and offsets know nothing of. The logs stay there until the next start.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from rebal_runtime.apache_kafka_security import SecuredApacheKafka, write_env_files
from rebal_runtime.ferretdb import FerretDB
from rebal_runtime.stack import SERVICES, Stack, run_in_foreground
from rebal_schemas import ALL_TOPICS

PARTITIONS = 12
"""Partitions of every topic but `dead.letter` (which keeps its single one), as in compose."""
SCALED: tuple[str, ...] = ("optimizer", "order-router", "settlement-tracker")
"""The services that run twice, each pair sharing one SQLite file."""
INSTANCES = 2
MONGO_SERVICES: tuple[str, ...] = ("scheduler",)
"""The services on the Mongo-wire store (FerretDB), one process each."""


def topic_partitions() -> list[tuple[str, int]]:
    """Every project topic with its prod-like partition count (compose's `topics` job)."""
    return [(t.name, PARTITIONS if t.partitions > 1 else t.partitions) for t in ALL_TOPICS]


def _database(service: str) -> str:
    """The service's MongoDB database, named as in compose (`order_router`, ...)."""
    return service.replace("-", "_")


CREDENTIALS_DIR = "credentials"
"""Under the var dir: `<principal>.env` per Kafka principal, `broker-simulator-admin.env`."""


def _kafka() -> SecuredApacheKafka:
    return SecuredApacheKafka(
        num_partitions=PARTITIONS,
        # as compose: a topic nobody created is an error, never a surprise with default partitions
        config={"auto.create.topics.enable": "false"},
        topics=tuple(topic_partitions()),  # created as admin once the broker answers
    )


def _secret() -> str:
    return secrets.token_urlsafe(24)


def clear_state(var_dir: Path) -> None:
    """Remove what a previous run left in `var_dir` (only the files a stack writes there)."""
    if not var_dir.is_dir():
        return
    for pattern in ("*.sqlite", "*.sqlite-wal", "*.sqlite-shm", "*.ready", "*.log"):
        for path in var_dir.glob(pattern):
            path.unlink(missing_ok=True)
    shutil.rmtree(var_dir / "ferretdb", ignore_errors=True)
    shutil.rmtree(var_dir / CREDENTIALS_DIR, ignore_errors=True)


@dataclass
class ProdLikeStack(Stack):
    """A `Stack` on a secured Kafka with FerretDB beside it: FerretDB started first (the
    scheduler's store), stopped last; every service process authenticates as its own principal."""

    ferretdb: FerretDB = field(default_factory=FerretDB)
    broker_api_key: tuple[str, str] = field(default_factory=lambda: (_secret(), _secret()))
    """(key, secret) of the simulator's trading API: the simulator's and the order-router's."""

    @property
    def secured(self) -> SecuredApacheKafka:
        assert isinstance(self.kafka, SecuredApacheKafka), self.kafka
        return self.kafka

    def service_env(self, name: str, instance: str | None = None) -> dict[str, str]:
        """The stack's environment of the process plus its principal's SASL settings: the
        service's name is its principal (and its consumer group, which its ACLs name)."""
        env = super().service_env(name, instance)
        try:
            security = self.secured.service_env(name)
        except KeyError:  # not started yet (e.g. `store_url` before start): no credentials
            security = {}
        return {**env, **security}

    def _credential_overrides(self) -> dict[str, dict[str, str]]:
        key, secret = self.broker_api_key
        return {
            "broker-simulator": {
                "REBAL_SIM_REQUIRE_AUTH": "true",
                "BROKER_SIM_KEY": key,
                "BROKER_SIM_SECRET": secret,
            },
            "order-router": {"REBAL_BROKER_KEY": key, "REBAL_BROKER_SECRET": secret},
        }

    @property
    def admin_token_file(self) -> Path:
        return self.var_dir / CREDENTIALS_DIR / "broker-simulator-admin.env"

    def _write_credentials(self) -> Path:
        folder = self.var_dir / CREDENTIALS_DIR
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_env_files(self.secured, folder)
        return folder

    def start(self, echo: bool = True, only: tuple[str, ...] | None = None) -> ProdLikeStack:
        self.var_dir.mkdir(parents=True, exist_ok=True)
        self.ferretdb.data_dir = self.ferretdb.data_dir or self.var_dir / "ferretdb"
        self.ferretdb.log_path = self.ferretdb.log_path or self.var_dir / "ferretdb.log"
        self.ferretdb.start()
        self.timings["ferretdb"] = self.ferretdb.startup_seconds
        own: dict[str, dict[str, str]] = self._credential_overrides()
        for name in MONGO_SERVICES:
            own.setdefault(name, {}).update(
                {"REBAL_STORE_URL": self.ferretdb.url, "REBAL_STORE_DATABASE": _database(name)}
            )
        self.service_overrides = {
            **self.service_overrides,
            **{name: {**self.service_overrides.get(name, {}), **env} for name, env in own.items()},
        }
        try:
            super().start(echo, only)
            self._write_credentials()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        try:
            super().stop()
        finally:
            self.ferretdb.stop()

    def describe(self) -> list[str]:
        stores = {name: self.store_url(name) for name, _ in SERVICES if name != "broker-simulator"}
        lines = [
            "Kafka: SASL_PLAINTEXT SCRAM-SHA-512 and ACLs, one principal per service; credentials "
            f"of every principal in {self.var_dir / CREDENTIALS_DIR}/<principal>.env",
            f"topics: {PARTITIONS} partitions each (dead.letter 1), created as admin before the "
            "services; idempotent producer on",
            f"FerretDB (Mongo wire) on {self.ferretdb.url}",
            f"broker simulator /admin/*: bearer token in {self.admin_token_file}",
        ]
        for name, url in stores.items():
            where = f"{url} (database {_database(name)})" if name in MONGO_SERVICES else url
            shared = f", shared by {', '.join(self.instances(name))}" if name in SCALED else ""
            lines.append(f"{name}: {where}{shared}")
        return lines


def build(
    var_dir: Path,
    overrides: Mapping[str, str] | None = None,
    *,
    instances: int = INSTANCES,
) -> ProdLikeStack:
    """The prod-like topology, not started. `overrides` go to every service (e.g. the demo's
    always-open trading calendar), after the topology's own settings."""
    return ProdLikeStack(
        var_dir,
        overrides={
            "REBAL_PROFILE": "prod",  # as compose: the demo's ALWAYS_OPEN needs overrides' dev
            "REBAL_KAFKA_IDEMPOTENT_PRODUCER": "true",
            "REBAL_KAFKA_CREATE_TOPICS": "false",
            **(overrides or {}),
        },
        kafka=_kafka(),
        replicas=dict.fromkeys(SCALED, instances),
        service_overrides={name: {"REBAL_STORE_SQLITE_INLINE": "false"} for name in SCALED},
        # None: the secured launcher creates them as admin (no other principal may)
        topics=None,
    )


def main() -> None:
    var_dir = Path(os.environ.get("REBAL_VAR_DIR", "var/prod-like"))
    clear_state(var_dir)
    run_in_foreground(build(var_dir), "rebal prod-like stack")


if __name__ == "__main__":
    main()
