"""Run the app under uvicorn on a chosen or free port and publish the port that was bound."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn
from starlette.applications import Starlette
from uvicorn.protocols.http.h11_impl import H11Protocol

from rebal_broker_sim.entrypoints.trading_routes import TRANSPORT_STATE_KEY

try:  # httptools parses HTTP in C; h11 (pure Python) was a third of each request's cost
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _Protocol
except ImportError:  # pragma: no cover - httptools is a dependency; h11 is uvicorn's fallback
    _Protocol = H11Protocol  # type: ignore[assignment,misc]


class _TransportExposingProtocol(_Protocol):
    """Puts the connection's transport into the request scope state (per connection).

    Only the drop-response fault uses it: ASGI itself has no way to close a connection
    without answering.
    """

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.app_state = {**self.app_state, TRANSPORT_STATE_KEY: transport}


class _Server(uvicorn.Server):
    """Tells the app as soon as a stop signal arrives, so open event streams end at once
    instead of holding the graceful shutdown until its timeout."""

    def __init__(self, config: uvicorn.Config, on_exit: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_exit = on_exit

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self._on_exit()
        super().handle_exit(sig, frame)


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP, not the default 0: asyncio sets TCP_NODELAY only on sockets that say
    # they are TCP, and the accepted ones inherit the listener's proto. Without it, each
    # answer after the first on a kept-alive connection (headers and body are two writes)
    # waited for the client's delayed ACK: about 40 ms per request.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


def write_port_file(path: Path, port: int) -> None:
    """Atomic: a reader sees either no file or the whole port number."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(f"{port}\n")
    partial.replace(path)


async def serve(
    app: Starlette,
    host: str,
    port: int,
    port_file: Path | None,
    on_exit: Callable[[], None],
    log_level: str = "warning",
) -> None:
    sock = bind_socket(host, port)
    bound_port: int = sock.getsockname()[1]
    options: dict[str, Any] = {
        "http": _TransportExposingProtocol,
        "lifespan": "on",
        "log_level": log_level,
        "access_log": log_level in ("debug", "trace"),
        "timeout_graceful_shutdown": 5,
    }
    server = _Server(uvicorn.Config(app, **options), on_exit)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    # uvicorn offers no "started" event to await; its own flag is polled instead.
    while not server.started and not task.done():  # noqa: ASYNC110
        await asyncio.sleep(0.02)
    if server.started:
        # Published only once the app is ready, so "file exists" means "requests will work".
        if port_file is not None:
            write_port_file(port_file, bound_port)
        print(f"rebal-broker-sim listening on http://{host}:{bound_port}", flush=True)
    await task
