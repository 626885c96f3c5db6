"""HTTP load for the api benchmarks: a small keep-alive HTTP/1.1 client on asyncio streams (an
HTTP library's own cost would be most of what is measured on 2 shared cores), closed-loop
connections, requests per second and latency percentiles.

`measure` runs `requests` GETs over `concurrency` connections, each sending its next request as
soon as its last answer is read; a warm-up is not counted. Every answer must be 200.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from rich.progress import Progress


@dataclass(frozen=True)
class Figures:
    name: str
    requests: int
    seconds: float
    latencies: tuple[float, ...]
    bytes_per_answer: float

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


class Connection:
    def __init__(self, url: str, key: str, secret: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        token = base64.b64encode(f"{key}:{secret}".encode()).decode()
        self.headers = f"Host: {self.host}\r\nAuthorization: Basic {token}\r\n\r\n"
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> Connection:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        return self

    async def get(self, path: str) -> tuple[int, bytes]:
        assert self.reader is not None
        assert self.writer is not None
        self.writer.write(f"GET {path} HTTP/1.1\r\n{self.headers}".encode())
        status = int((await self.reader.readline()).split()[1])
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            await self.writer.wait_closed()


async def measure(
    name: str,
    url: str,
    credentials: tuple[str, str],
    path: Callable[[int], str],
    requests: int,
    concurrency: int,
    progress: Progress,
    warmup: int = 100,
) -> Figures:
    """`path(i)` is the i-th request's path."""
    connections = [await Connection(url, *credentials).open() for _ in range(concurrency)]
    for i in range(warmup):
        await connections[i % concurrency].get(path(i))
    task = progress.add_task(name, total=requests)
    latencies: list[float] = []
    sizes: list[int] = []
    next_index = 0

    async def worker(connection: Connection) -> None:
        nonlocal next_index
        while next_index < requests:
            index, next_index = next_index, next_index + 1
            began = time.perf_counter()
            status, body = await connection.get(path(index))
            latencies.append(time.perf_counter() - began)
            if status != 200:
                raise RuntimeError(f"{name}: HTTP {status} for {path(index)}: {body[:200]!r}")
            sizes.append(len(body))
            if len(latencies) % 100 == 0:
                progress.update(task, completed=len(latencies))

    began = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in connections))
    seconds = time.perf_counter() - began
    progress.update(task, completed=requests)
    for connection in connections:
        await connection.close()
    return Figures(name, requests, seconds, tuple(latencies), sum(sizes) / len(sizes))
