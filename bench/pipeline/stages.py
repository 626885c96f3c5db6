"""Where a service's time goes: py-spy speedscope profiles (`--idle --full-filenames`) split into
pipeline stages by matching each sample's frames to module paths.

A sample is classified by its innermost frame that names a stage (`RULES`). Generic
standard-library frames (copy, hmac, datetime, ...), asyncio's, anyio's (httpx's I/O, FastStream's
thread hops) and importlib's (an import on the hot path) name none, so they count for the code that
called them; entry points (`main`, `<module>`) are skipped too. A sample whose innermost frame is a
wait (the event loop's `select`, an executor or aiosqlite worker waiting for work) is idle. Only
the event-loop thread's idle samples count: a worker thread is idle whenever the loop does not
need it, which says nothing.

Figures are shares of the event-loop thread's wall time (100 % = the main thread never waits for
work; time runnable but not scheduled counts where it was). Other threads add their busy samples
on top (the simulator's aiosqlite thread), so a row may add up to a little more than 100 %.
"""

from __future__ import annotations

import functools
import inspect
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STAGES = (
    "consume",
    "decode",
    "store",
    "handler",
    "publish",
    "HTTP",
    "log",
    "loop",
    "other",
    "idle",
)
"""consume: aiokafka fetch/poll, FastStream, the consume middleware; decode: pydantic, JSON
(both ways); store: SQLite and the document store; handler: the services' own code; publish: the
outbox relay, signing, the producer; HTTP: httpx/httpcore/h11 (router -> simulator), uvicorn/
starlette (the simulator's server), SSE; log: structlog/logging; loop: asyncio with no other frame
on the stack (scheduling, socket reads/writes); other: anything else."""

# (substring of the frame's file path, stage), first match of the innermost matching frame wins.
RULES: tuple[tuple[str, str], ...] = (
    ("/sqlite3/", "store"),
    ("/aiosqlite/", "store"),
    ("/rebal_runtime/store/", "store"),
    ("/rebal_runtime/uow.py", "store"),
    ("/rebal_runtime/repository.py", "store"),
    ("/rebal_broker_sim/adapters/sqlite", "store"),
    ("/pydantic/", "decode"),
    ("/pydantic_core/", "decode"),
    ("/orjson", "decode"),
    ("/json/", "decode"),
    ("/rebal_schemas/", "decode"),
    ("/rebal_broker_sim/adapters/codec.py", "decode"),
    ("/rebal_runtime/outbox.py", "publish"),
    ("/rebal_runtime/signing.py", "publish"),
    ("/aiokafka/", "kafka"),  # consume or publish: decided by the rest of the stack
    ("/kafka/", "kafka"),  # aiokafka vendors kafka-python's protocol code
    ("/faststream/", "consume"),
    ("/fast_depends/", "consume"),  # FastStream's argument injection, per message
    ("/rebal_runtime/consume.py", "consume"),
    ("/httpx/", "HTTP"),
    ("/httpcore/", "HTTP"),
    ("/h11/", "HTTP"),
    ("/httptools/", "HTTP"),
    ("/uvicorn/", "HTTP"),
    ("/starlette/", "HTTP"),
    ("/fastapi/", "HTTP"),
    ("/sse_starlette/", "HTTP"),
    ("/rebal_order_router/adapters/sse.py", "HTTP"),
    ("/rebal_order_router/adapters/alpaca_client.py", "HTTP"),
    ("/rebal_order_router/adapters/alpaca_payloads.py", "HTTP"),
    ("/rebal_broker_sim/entrypoints/", "HTTP"),
    ("/structlog/", "log"),
    ("/logging/", "log"),
    ("/rebal_runtime/log.py", "log"),
    ("/rebal_optimizer/", "handler"),
    ("/rebal_order_router/", "handler"),
    ("/rebal_settlement_tracker/", "handler"),
    ("/rebal_broker_sim/", "handler"),
    ("/rebal_scheduler/", "handler"),
    ("/rebal_runtime/", "handler"),  # the runtime's other modules: service wiring, watchdog
)
PUBLISH_MARKERS = ("/aiokafka/producer/", "/rebal_runtime/outbox.py", "/rebal_client/kafka.py")
IDLE_LEAVES = (
    ("selectors.py", "select"),
    ("concurrent/futures/thread.py", "_worker"),
    # uvloop's loop is C: waiting in epoll leaves the Python frame that started it as the leaf
    ("asyncio/runners.py", "run"),
    ("asyncio/runners.py", "run_until_complete"),
    ("rebal_runtime/event_loop.py", "run"),
)
# a worker thread waiting for work: its stack has one of these near the leaf
WAITS = (
    ("threading.py", "Condition.wait"),
    ("queue.py", "Queue.get"),
    ("threading.py", "Event.wait"),
)
PROJECT = "/rebal_"


@dataclass(frozen=True)
class Frame:
    name: str
    file: str
    line: int

    @property
    def short(self) -> str:
        """`package/module.py:function`: the path from the package directory on."""
        path = self.file
        for marker in ("/site-packages/", "/src/", "/lib/python3.11/"):
            if marker in path:
                path = path.rsplit(marker, 1)[1]
                break
        return f"{path}:{self.name}"


@dataclass
class ThreadProfile:
    name: str
    samples: list[tuple[int, ...]]  # frame indices, outermost first
    weights: list[float]


def _seconds() -> defaultdict[Any, float]:
    return defaultdict(float)


def top(counts: dict[Any, float], n: int) -> list[tuple[Any, float]]:
    return sorted(counts.items(), key=lambda kv: -kv[1])[:n]


@dataclass
class Breakdown:
    service: str
    seconds: float  # the event-loop thread's sampled wall time
    stages: dict[str, float] = field(default_factory=dict)  # stage -> seconds (all threads)
    self_time: defaultdict[tuple[str, str], float] = field(default_factory=_seconds)
    """(stage, leaf function) -> busy seconds"""
    spots: defaultdict[tuple[str, str], float] = field(default_factory=_seconds)
    """(stage, innermost project function on the stack) -> busy seconds: who asked for it"""
    inclusive: defaultdict[str, float] = field(default_factory=_seconds)
    """function -> busy seconds of the samples it is on (entry points and loops left out)"""

    def share(self, stage: str) -> float:
        return self.stages.get(stage, 0.0) / self.seconds if self.seconds else 0.0

    @property
    def busy(self) -> float:
        """Share of the event loop's wall time not idle."""
        return 1 - self.share("idle")


@functools.cache
def aiosqlite_wait_line() -> int:
    """The line where aiosqlite's worker thread waits for work (`tx.get()`): the same leaf
    function, on another line, is running SQL (a C call has no frame of its own)."""
    try:
        from aiosqlite import core
    except ImportError:
        return 0
    lines, first = inspect.getsourcelines(core._connection_worker_thread)
    return next((first + i for i, line in enumerate(lines) if "tx.get(" in line), 0)


def is_idle(stack: list[Frame]) -> bool:
    leaf = stack[-1]
    if any(leaf.file.endswith(f) and leaf.name.endswith(n) for f, n in IDLE_LEAVES):
        return True
    if leaf.name == "_connection_worker_thread" and leaf.file.endswith("aiosqlite/core.py"):
        return leaf.line == aiosqlite_wait_line()
    return any(f.file.endswith(w) and f.name == n for f in stack[-3:] for w, n in WAITS)


def classify(stack: list[Frame]) -> str:
    """The stage of one busy sample (`stack` outermost first)."""
    for frame in reversed(stack):
        if _entry(frame):
            continue
        for needle, stage in RULES:
            if needle in frame.file:
                if stage != "kafka":
                    return stage
                publishing = any(m in f.file for f in stack for m in PUBLISH_MARKERS)
                return "publish" if publishing else "consume"
    return "loop" if any("/asyncio/" in f.file for f in stack) else "other"


def load(path: Path) -> tuple[list[Frame], list[ThreadProfile]]:
    data: dict[str, Any] = json.loads(path.read_text())
    frames = [
        Frame(f["name"], f.get("file") or "", f.get("line") or 0) for f in data["shared"]["frames"]
    ]
    threads = [
        ThreadProfile(p["name"], [tuple(s) for s in p["samples"]], list(p["weights"]))
        for p in data["profiles"]
    ]
    return frames, threads


def breakdown(service: str, path: Path) -> Breakdown:
    frames, threads = load(path)
    main = next((t for t in threads if '"MainThread"' in t.name), max(threads, key=_total))
    result = Breakdown(service, _total(main))
    stages: defaultdict[str, float] = defaultdict(float)
    for thread in threads:
        for sample, weight in zip(thread.samples, thread.weights, strict=True):
            stack = [frames[i] for i in sample]
            if not stack or is_idle(stack):
                if thread is main:
                    stages["idle"] += weight
                continue
            stage = classify(stack)
            stages[stage] += weight
            result.self_time[stage, stack[-1].short] += weight
            result.spots[stage, owner(stack)] += weight
            for name in {f.short for f in stack if not _plumbing(f)}:
                result.inclusive[name] += weight
    result.stages = dict(stages)
    return result


def owner(stack: list[Frame]) -> str:
    """Who asked for this sample's work: the innermost project function on the stack, else the
    outermost library one (a background task's entry: aiokafka's fetcher, uvicorn's server)."""
    mine = next((f for f in reversed(stack) if PROJECT in f.file and not _entry(f)), None)
    if mine is None:
        mine = next((f for f in stack if not _plumbing(f)), None)
    return mine.short if mine else "(event loop)"


def _entry(frame: Frame) -> bool:
    return frame.name in ("<module>", "main", "_run_module_as_main", "_run_code")


def _plumbing(frame: Frame) -> bool:
    """Frames on (nearly) every sample: entry points, the event loop, threads."""
    return (
        _entry(frame)
        or frame.name == "run"
        or any(p in frame.file for p in ("/asyncio/", "/threading.py", "/concurrent/", "runpy.py"))
    )


def _total(thread: ThreadProfile) -> float:
    return sum(thread.weights)
