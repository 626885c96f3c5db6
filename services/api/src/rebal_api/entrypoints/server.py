"""`python -m rebal_api`: the service runtime (store, consumers, outbox relay) and the HTTP
server in one process, until SIGINT/SIGTERM.

The server binds its port first (0: a free one), then the runtime starts (store, topics, relay,
consumers): its ready file (`REBAL_READY_FILE`, once every consumer has its partitions) thus
also means "HTTP is served". Then it says where it listens, on stdout and in the port file
when one is given (`--port-file`). A stop signal stops the server (open event streams get
`SHUTDOWN_GRACE` seconds), then the runtime (consumers, the relay's last flush, the store).
"""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from rebal_api.bootstrap import Api

SHUTDOWN_GRACE = 3


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m rebal_api", description=__doc__)
    parser.add_argument("--host", help="bind address (default REBAL_HTTP_HOST)")
    parser.add_argument("--port", type=int, help="port, 0 = free (default REBAL_HTTP_PORT)")
    parser.add_argument("--port-file", type=Path, help="write the bound port here when serving")
    return parser.parse_args(argv)


def _write_port(path: Path, port: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text(f"{port}\n")
    partial.replace(path)


async def serve(api: Api, app: FastAPI, host: str, port: int, port_file: Path | None) -> None:
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        lifespan="off",
        ws="none",  # no websockets here (and no import of the legacy implementation)
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=SHUTDOWN_GRACE,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    # uvicorn offers no "started" event to await; its own flag is polled instead.
    while not server.started and not task.done():  # noqa: ASYNC110
        await asyncio.sleep(0.02)
    if not server.started:
        await task  # it could not bind: its error
        return
    try:
        await api.runtime.start()
    except BaseException:
        server.should_exit = True
        await task
        raise
    try:
        bound = server.servers[0].sockets[0].getsockname()[1]
        if port_file is not None:
            _write_port(port_file, bound)
        print(f"rebal api listening on http://{host}:{bound}", flush=True)
        await task
    finally:
        await api.runtime.stop()
