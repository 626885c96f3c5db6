"""The trading-request limit (`BehaviourConfig.rate_limit_per_minute`), answered like Alpaca's:
429 with a `Retry-After` in seconds once a client is over it.

A `rebal_runtime.rate.TokenBucket` at the limit's rate holding one second's worth (at least one
request): smoother than the per-minute count Alpaca keeps, so a client that stays within the
simulator's limit stays within Alpaca's too. The simulator has one API key, so one bucket (Alpaca
counts per key). Refused requests take no token: they were not processed. A changed limit
(POST /admin/config) starts a new, full bucket.
"""

from __future__ import annotations

import math

from rebal_broker_sim.service_layer.ports import Clock
from rebal_runtime.rate import TokenBucket


class RequestRateLimit:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._per_minute = 0
        self._bucket: TokenBucket | None = None
        self.refused = 0  # requests answered 429 (GET /admin/orders shows it)

    def admit(self, per_minute: int) -> int | None:
        """None when a request may go on under a limit of `per_minute` (0: none); otherwise
        the seconds the client must wait (Retry-After: a whole number, at least 1)."""
        if per_minute <= 0:
            self._per_minute, self._bucket = 0, None
            return None
        if self._bucket is None or per_minute != self._per_minute:
            self._per_minute, self._bucket = per_minute, TokenBucket(per_minute / 60.0)
        now = self._clock.now()
        if self._bucket.take(now):
            return None
        self.refused += 1
        # HTTP's delta-seconds are whole: rounded up, so a client that waits them gets a token
        return max(1, math.ceil(self._bucket.wait_seconds(now)))
