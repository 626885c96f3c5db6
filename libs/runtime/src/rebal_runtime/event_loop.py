"""Every rebal process runs its main coroutine here: on uvloop where it is installed.

Why uvloop: a service's work is many small socket reads and writes (Kafka fetches and produces,
the broker's HTTP requests and its event stream) with a little Python between them. uvloop does
the transport and selector work in C; asyncio's own loop does it in Python, and on two shared
cores that was a large part of each message's cost (bench/README.md, "uvloop"). uvloop also
sets TCP_NODELAY on every TCP socket, which asyncio does only for sockets created as TCP.

`REBAL_EVENT_LOOP=asyncio` picks the standard loop (a debugging aid, or a platform without
uvloop's wheels); the default `auto` takes uvloop when it can be imported.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from typing import Any, Literal, TypeVar

T = TypeVar("T")
LoopName = Literal["uvloop", "asyncio"]
ENV = "REBAL_EVENT_LOOP"


def loop_factory(
    choice: str | None = None,
) -> tuple[LoopName, Callable[[], asyncio.AbstractEventLoop]]:
    """The loop to run on and how to make it: `choice` (default: `$REBAL_EVENT_LOOP`, `auto`)."""
    wanted = (choice if choice is not None else os.environ.get(ENV, "auto")).strip().lower()
    if wanted not in ("auto", "uvloop", "asyncio"):
        raise ValueError(f"{ENV} must be auto, uvloop or asyncio, not {wanted!r}")
    if wanted != "asyncio":
        try:
            import uvloop
        except ImportError:
            if wanted == "uvloop":
                raise
        else:
            return "uvloop", uvloop.new_event_loop
    return "asyncio", asyncio.new_event_loop


def run(main: Coroutine[Any, Any, T], *, choice: str | None = None) -> T:
    """`asyncio.run(main)` on the chosen loop."""
    _, factory = loop_factory(choice)
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)
