"""FerretDB on a free loopback port: the MongoDB wire protocol without Docker (docs/design.md §5).

The binary is the project's own build of FerretDB v1 with its SQLite backend (`tools/ferretdb`,
built into `var/bin/rebal-ferretdb` by `make ferretdb`). The launcher starts it with a temporary
data directory (or the one given), waits until a PyMongo `ping` answers, and stops it (SIGTERM,
then SIGKILL). It has no authentication and listens on 127.0.0.1 only: for the store contract
suite (`rebal_runtime.testing.ferretdb` re-exports it) and the scheduler's store in the prod-like
topology (`rebal_runtime.prodlike`).

FerretDB's conditional updates are not atomic (docs/design.md §5 "Store backends and their
limits": the SQLite handler queries, then updates, outside one transaction), so concurrency
cases of the store contract stay on SQLite, the in-memory store and real MongoDB, and no two
processes share a FerretDB database.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from rebal_runtime.embedded import free_port, stop_process_group

BINARY_NAME = "rebal-ferretdb"
BINARY_ENV = "REBAL_FERRETDB_BIN"

#: The skip reason of every contract case that needs atomic conditional updates under contention.
NOT_ATOMIC_REASON = "FerretDB's conditional updates are not atomic (docs/design.md §5)"


class FerretDBNotBuilt(RuntimeError):
    """The FerretDB binary is missing: run `make ferretdb`."""


def ferretdb_binary() -> Path:
    """`$REBAL_FERRETDB_BIN`, else `var/bin/rebal-ferretdb` of the work tree (searched upwards
    from this file and from the current directory), else `rebal-ferretdb` on PATH."""
    explicit = os.environ.get(BINARY_ENV)
    if explicit:
        path = Path(explicit)
        if path.is_file() and os.access(path, os.X_OK):
            return path
        raise FerretDBNotBuilt(
            f"{BINARY_ENV}={explicit} is not an executable file; unset it or run `make ferretdb`"
        )
    searched: list[Path] = []
    for start in (Path(__file__).resolve().parent, Path.cwd().resolve()):
        for folder in (start, *start.parents):
            candidate = folder / "var" / "bin" / BINARY_NAME
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return candidate
            if (folder / "tools" / "ferretdb" / "main.go").is_file():
                searched.append(candidate)
                break
    on_path = shutil.which(BINARY_NAME)
    if on_path:
        return Path(on_path)
    where = ", ".join(str(p) for p in dict.fromkeys(searched)) or "var/bin/ of the work tree"
    raise FerretDBNotBuilt(
        f"FerretDB binary {BINARY_NAME!r} not found (looked in {where}, ${BINARY_ENV} and PATH): "
        "run `make ferretdb` (needs Go >= 1.24) in the repository root"
    )


@dataclass
class FerretDB:
    """A running FerretDB process. `start()`/`stop()` or `with FerretDB() as db: db.url`."""

    port: int = 0
    data_dir: Path | None = None
    log_path: Path | None = None
    binary: Path | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)
    #: seconds from spawning the process to the first answered ping
    startup_seconds: float = field(default=0.0, init=False)
    _temp_dir: Path | None = field(default=None, init=False)

    @property
    def url(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/"

    def start(self, timeout: float = 30.0) -> FerretDB:
        binary = self.binary or ferretdb_binary()
        if self.port == 0:
            self.port = free_port()
        if self.data_dir is None or self.log_path is None:
            # removed by stop(), with the data directory and the log it holds
            self._temp_dir = Path(tempfile.mkdtemp(prefix="rebal-ferretdb-"))
            self.data_dir = self.data_dir or self._temp_dir / "data"
            self.log_path = self.log_path or self._temp_dir / "ferretdb.log"
        began = time.monotonic()
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [
                    str(binary),
                    "-listen",
                    f"127.0.0.1:{self.port}",
                    "-data-dir",
                    str(self.data_dir),
                ],
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C in a terminal goes to us; we stop it ourselves
            )
        self._wait_ready(timeout)
        self.startup_seconds = time.monotonic() - began
        return self

    def _wait_ready(self, timeout: float) -> None:
        from pymongo import MongoClient

        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                code, log = self.process.returncode, self._log_tail()
                self.stop()
                raise RuntimeError(f"FerretDB exited with {code} on start: {log}")
            try:  # a refused connect is cheap; a MongoClient would wait its whole selection timeout
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
            except OSError as exc:
                last_error = exc
                time.sleep(0.02)
                continue
            client: MongoClient[dict[str, object]] = MongoClient(
                self.url, serverSelectionTimeoutMS=2000, connectTimeoutMS=2000
            )
            try:
                client.admin.command("ping")
                return
            except Exception as exc:  # listening, not answering yet
                last_error = exc
                time.sleep(0.05)
            finally:
                client.close()
        log = self._log_tail()
        self.stop()
        raise TimeoutError(
            f"FerretDB did not answer a ping on {self.url}: {last_error}; log: {log}"
        )

    def _log_tail(self, size: int = 2000) -> str:
        if self.log_path is None or not self.log_path.exists():
            return "(no log)"
        return self.log_path.read_bytes()[-size:].decode(errors="replace").strip() or "(empty log)"

    def stop(self, timeout: float = 5.0) -> None:
        proc, self.process = self.process, None
        stop_process_group(proc, timeout)
        temp, self._temp_dir = self._temp_dir, None
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)
            # a later start() gets fresh ones
            if self.data_dir is not None and self.data_dir.is_relative_to(temp):
                self.data_dir = None
            if self.log_path is not None and self.log_path.is_relative_to(temp):
                self.log_path = None

    def __enter__(self) -> FerretDB:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
