"""The compose topology (deploy/docker-compose.yml) as processes, without a Docker engine (DESIGN §5).

`python -m rebal_runtime.prodlike` (what `make prod-like` runs; `make kafka-jars` and `make ferretdb`
first) starts it in the foreground; Ctrl-C stops the services first, then Kafka, then FerretDB.

- **Apache Kafka** (KRaft, the project's `ApacheKafka` launcher) with automatic topic creation
  off: every topic is created before any service starts (`topics_admin.ensure_topics`) with the
  compose counts, 12 partitions each and `dead.letter` 1, and no service creates any
  (`REBAL_KAFKA_CREATE_TOPICS=false`). The **idempotent producer** is on
  (`REBAL_KAFKA_IDEMPOTENT_PRODUCER=true`).
- **Two instances** of each scalable service (optimizer, order-router, settlement-tracker):
  processes `optimizer-1` and `optimizer-2` in one consumer group (same `REBAL_SERVICE_NAME`)
  sharing ONE store, each with its own ready file and log.
- **Stores.** A pair shares one **SQLite** file per service (WAL). SQLite is safe across
  processes: every commit, claim and settle is a `BEGIN IMMEDIATE` transaction under the file's
  single writer lock. The pairs do not share a FerretDB database because FerretDB's conditional
  updates are not atomic (FerretDB#3040: two commits on the same version can both succeed), so two
  writers of one document could lose a write. The pairs run with
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
- One **broker simulator**, as in the embedded stack.

Every start is a fresh topology: Kafka's log dirs are a temporary folder removed on stop, and
`main()` first clears what the last run left in `REBAL_VAR_DIR` (default `var/prod-like`: the
SQLite files, FerretDB's data, ready files and logs), so the stores never hold state that the new
broker's topics and offsets know nothing of. The logs stay there until the next start.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from rebal_runtime.apache_kafka import ApacheKafka
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


def _kafka() -> ApacheKafka:
    return ApacheKafka(
        num_partitions=PARTITIONS,
        # as compose: a topic nobody created is an error, never a surprise with default partitions
        config={"auto.create.topics.enable": "false"},
    )


def clear_state(var_dir: Path) -> None:
    """Remove what a previous run left in `var_dir` (only the files a stack writes there)."""
    if not var_dir.is_dir():
        return
    for pattern in ("*.sqlite", "*.sqlite-wal", "*.sqlite-shm", "*.ready", "*.log"):
        for path in var_dir.glob(pattern):
            path.unlink(missing_ok=True)
    shutil.rmtree(var_dir / "ferretdb", ignore_errors=True)


@dataclass
class ProdLikeStack(Stack):
    """A `Stack` with FerretDB beside it: started first (the scheduler's store), stopped last."""

    ferretdb: FerretDB = field(default_factory=FerretDB)

    def start(self, echo: bool = True, only: tuple[str, ...] | None = None) -> ProdLikeStack:
        self.var_dir.mkdir(parents=True, exist_ok=True)
        self.ferretdb.data_dir = self.ferretdb.data_dir or self.var_dir / "ferretdb"
        self.ferretdb.log_path = self.ferretdb.log_path or self.var_dir / "ferretdb.log"
        self.ferretdb.start()
        self.timings["ferretdb"] = self.ferretdb.startup_seconds
        self.service_overrides = {
            **self.service_overrides,
            **{
                name: {
                    **self.service_overrides.get(name, {}),
                    "REBAL_STORE_URL": self.ferretdb.url,
                    "REBAL_STORE_DATABASE": _database(name),
                }
                for name in MONGO_SERVICES
            },
        }
        try:
            super().start(echo, only)
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
            f"topics: {PARTITIONS} partitions each (dead.letter 1), created before the services; "
            "idempotent producer on",
            f"FerretDB (Mongo wire) on {self.ferretdb.url}",
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
            "REBAL_KAFKA_IDEMPOTENT_PRODUCER": "true",
            "REBAL_KAFKA_CREATE_TOPICS": "false",
            **(overrides or {}),
        },
        kafka=_kafka(),
        replicas=dict.fromkeys(SCALED, instances),
        service_overrides={name: {"REBAL_STORE_SQLITE_INLINE": "false"} for name in SCALED},
        topics=topic_partitions(),
    )


def main() -> None:
    var_dir = Path(os.environ.get("REBAL_VAR_DIR", "var/prod-like"))
    clear_state(var_dir)
    run_in_foreground(build(var_dir), "rebal prod-like stack")


if __name__ == "__main__":
    main()
