"""HTTP load for the api benchmarks: a small keep-alive HTTP/1.1 client on asyncio streams (an
HTTP library's own cost would be most of what is measured on 2 shared cores), requests per
second and latency percentiles, closed loop and open loop.

`measure` (closed loop) runs `requests` GETs over `concurrency` connections, each sending its
next request as soon as its last answer is read: the most the server answers, but each latency
then includes the wait behind the other connections' requests (at 8 connections and 500/s, a
p50 of ~16 ms is queueing, not service). `measure_rate` (open loop) sends at a fixed offered
rate, on schedule whatever the answers do, each request on an idle keep-alive connection (a new
one when none is idle), and times each from its write to its answer: the latency a client sees
at that load. It also reports how late the generator was on its own schedule (it shares the
cores with the server), so a figure spoiled by the generator shows as such. A warm-up is not
counted; every answer must be 200.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from rich.progress import Progress

WARMUP = 100  # requests before the measured ones, not counted


@dataclass(frozen=True)
class Figures:
    name: str
    requests: int
    seconds: float
    latencies: tuple[float, ...]
    bytes_per_answer: float
    offered: float | None = None
    """The fixed rate asked for (open loop); None: closed loop."""
    lateness: tuple[float, ...] = ()
    """Open loop: how far behind its schedule each request was sent."""
    connections: int = 0

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    def percentile(self, p: float) -> float:
        return percentile(self.latencies, p)


def percentile(values: tuple[float, ...] | list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else 0.0


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
    warmup: int = WARMUP,
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


class Overloaded(Exception):
    """The offered rate is more than the server answers: answers pile up without bound."""


async def measure_rate(
    name: str,
    url: str,
    credentials: tuple[str, str],
    path: Callable[[int], str],
    rate: float,
    requests: int,
    progress: Progress,
    *,
    warmup: int = WARMUP,
    pool: int = 8,
    max_connections: int = 64,
) -> Figures:
    """`requests` GETs at `rate` per second (open loop); `Overloaded` when more than
    `max_connections` requests are waiting for their answer at once."""
    # first in, first out: every connection is used in turn, none left idle past the server's
    # keep-alive timeout (uvicorn's: 5 s) to be found closed
    idle = deque([await Connection(url, *credentials).open() for _ in range(pool)])
    for i in range(warmup):
        await idle[i % pool].get(path(i))
    everyone = list(idle)
    task = progress.add_task(f"{name} @ {rate:g}/s", total=requests)
    latencies: list[float] = []
    lateness: list[float] = []
    sizes: list[int] = []

    async def one(connection: Connection, index: int) -> None:
        began = time.perf_counter()
        status, body = await connection.get(path(index))
        latencies.append(time.perf_counter() - began)
        idle.append(connection)
        if status != 200:
            raise RuntimeError(f"{name}: HTTP {status} for {path(index)}: {body[:200]!r}")
        sizes.append(len(body))

    sent: list[asyncio.Task[None]] = []
    began = time.perf_counter()
    try:
        for index in range(requests):
            due = began + index / rate
            if (wait := due - time.perf_counter()) > 0:
                await asyncio.sleep(wait)
            lateness.append(max(0.0, time.perf_counter() - due))
            if not idle:
                if len(everyone) >= max_connections:
                    raise Overloaded(f"{name}: {max_connections} requests waiting at {rate:g}/s")
                everyone.append(await Connection(url, *credentials).open())
                idle.append(everyone[-1])
            sent.append(asyncio.create_task(one(idle.popleft(), index)))
            if index % 100 == 0:
                progress.update(task, completed=len(latencies))
        await asyncio.gather(*sent)
    finally:
        for pending in sent:
            pending.cancel()
        await asyncio.gather(*sent, return_exceptions=True)
        progress.update(task, completed=requests)
        for connection in everyone:
            await connection.close()
    seconds = time.perf_counter() - began
    return Figures(
        name,
        requests,
        seconds,
        tuple(latencies),
        sum(sizes) / len(sizes),
        offered=rate,
        lateness=tuple(lateness),
        connections=len(everyone),
    )
