"""Wake-ups between writers and waiters (SSE streams, the fill scheduler) in one event loop."""

from __future__ import annotations

import asyncio


class ChangeNotifier:
    """Waiters take a ticket *before* reading the store, then wait on it.

    A change committed between the read and the wait has already set the ticket, so the
    waiter never sleeps through it (no lost wake-up).
    """

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def ticket(self) -> asyncio.Event:
        return self._event

    def notify(self) -> None:
        fired, self._event = self._event, asyncio.Event()
        fired.set()

    def close(self) -> None:
        """Shutting down: every current and future wait returns at once."""
        self._closed = True
        self._event.set()

    async def wait(self, ticket: asyncio.Event, max_wait_seconds: float | None) -> bool:
        """True when something changed (or the notifier closed), False on timeout."""
        if self._closed:
            return True
        try:
            await asyncio.wait_for(ticket.wait(), max_wait_seconds)
        except TimeoutError:
            return False
        return True
