"""A token bucket on a `Clock`: at most `rate` operations a second on average, bursts of at most
`capacity`. The order-router's broker calls and its start of queued runs at the opening share it,
so that throughput never turns into requests a broker refuses (Alpaca limits requests per minute).

`take(now)` is the pure step (tests drive it with explicit times); `acquire(clock)` waits on the
clock until a token is there. A bucket starts full: a service that was idle may burst.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from rebal_runtime.clock import Clock


class TokenBucket:
    def __init__(self, rate: float, capacity: float | None = None) -> None:
        if rate <= 0:
            raise ValueError("a rate must be > 0")
        self.rate = rate
        self.capacity = max(1.0, capacity if capacity is not None else rate)
        self._tokens = self.capacity
        self._at: datetime | None = None
        self._lock = asyncio.Lock()

    def _refill(self, now: datetime) -> None:
        if self._at is not None:
            elapsed = max(0.0, (now - self._at).total_seconds())  # a clock set back adds nothing
            self._tokens = min(self.capacity, self._tokens + self.rate * elapsed)
        self._at = now if self._at is None or now > self._at else self._at

    def available(self, now: datetime) -> float:
        self._refill(now)
        return self._tokens

    def take(self, now: datetime, tokens: float = 1.0) -> bool:
        """Take `tokens` if the bucket holds them now."""
        self._refill(now)
        if self._tokens < tokens:
            return False
        self._tokens -= tokens
        return True

    def wait_seconds(self, now: datetime, tokens: float = 1.0) -> float:
        """How long until `tokens` are there (0 when they are)."""
        self._refill(now)
        return max(0.0, (tokens - self._tokens) / self.rate)

    def pause(self, now: datetime, seconds: float) -> None:
        """Nothing is taken for `seconds` from now (a broker's 429 Retry-After). Pauses overlap
        rather than add up: requests refused together each say how long from now."""
        self._refill(now)
        self._tokens = min(self._tokens, -seconds * self.rate)

    async def acquire(self, clock: Clock, tokens: float = 1.0) -> None:
        """Wait until `tokens` can be taken, then take them; callers are served in turn."""
        if tokens > self.capacity:
            raise ValueError(f"{tokens} tokens never fit a bucket of {self.capacity}")
        async with self._lock:
            while not self.take(clock.now(), tokens):
                await clock.sleep(self.wait_seconds(clock.now(), tokens))
