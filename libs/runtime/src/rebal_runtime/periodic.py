"""Background work of a service, stopped by one rule, and the periodic task built on it.

The stop rule: work in progress (a tick, one stream update) finishes, then the task stops; a task
that is waiting (sleeping until the next tick, reading a quiet stream) is cancelled at once. The
work is either done or not started, never cut in half: a store write or a saved cursor always
matches what was handled, so nothing after a stop needs redoing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator

from rebal_runtime.clock import Clock, SystemClock
from rebal_runtime.log import get_logger

log = get_logger(__name__)


class Background:
    """One asyncio task under the stop rule. The task marks its work with `busy()`; `stop()`
    cancels it while it is not busy, and otherwise lets the work finish and cancels the task
    on leaving `busy()`: it ends at its next wait, its `finally` blocks run as on any stop."""

    def __init__(self, name: str, run: Callable[[], Awaitable[None]]) -> None:
        self.name = name
        self._run = run
        self._task: asyncio.Task[None] | None = None
        self._busy = False
        self.stopping = False

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if not self.running:
            self.stopping = False
            self._task = asyncio.create_task(self._main(), name=self.name)

    async def _main(self) -> None:
        await self._run()

    async def stop(self) -> None:
        task = self._task
        if task is None:
            return
        self.stopping = True
        if not self._busy:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        self._task = None

    @contextlib.contextmanager
    def busy(self) -> Iterator[None]:
        """Work that a stop lets finish. Outside the running task (a test calling the work
        directly) it changes nothing."""
        self._busy = True
        try:
            yield
        finally:
            self._busy = False
            task = asyncio.current_task()
            if self.stopping and task is not None and task is self._task:
                # stop() came during the work: the task ends at its next wait, where a plain
                # stop would have cancelled it (a stream is closed from inside, as usual)
                task.cancel()


Tick = Callable[[], Awaitable[object]]


class PeriodicTask:
    """Runs `tick` right after start and then every `seconds` on `clock` (a fake clock in
    tests wakes it as soon as the time is moved). A tick that raises is logged and counted,
    and the next one comes after the interval as usual: every tick starts again from the
    stored state, and waiting out the interval means a failing tick never spins.

    `wake()` asks for the next tick now instead of at the end of the interval (new work
    arrived); a wake-up during a tick makes another tick follow it at once."""

    def __init__(self, name: str, tick: Tick, seconds: float, clock: Clock | None = None) -> None:
        if seconds <= 0:
            raise ValueError("a periodic task needs an interval > 0")
        self.name = name
        self.tick = tick
        self.seconds = seconds
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.rounds = 0  # ticks that succeeded
        self.failures = 0  # ticks that raised
        self._woken = asyncio.Event()
        self._background = Background(name, self._run)

    async def start(self) -> None:
        self._background.start()

    async def stop(self) -> None:
        await self._background.stop()

    def wake(self) -> None:
        """Tick now rather than at the end of the interval (after the tick in progress)."""
        self._woken.set()

    async def run_once(self) -> bool:
        """One tick; False when it raised (logged, counted)."""
        try:
            await self.tick()
        except Exception as exc:
            self.failures += 1
            log.warning(
                "periodic task failed; retrying after the interval",
                task=self.name,
                error=repr(exc),
            )
            return False
        self.rounds += 1
        return True

    async def _run(self) -> None:
        while True:
            self._woken.clear()  # what the tick will see needs no wake-up of its own
            with self._background.busy():
                await self.run_once()
            await self._wait()

    async def _wait(self) -> None:
        """Until the interval has passed on the clock or `wake()` was called."""
        if self._woken.is_set():
            return
        waits = (
            asyncio.ensure_future(self.clock.sleep(self.seconds)),
            asyncio.ensure_future(self._woken.wait()),
        )
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()
