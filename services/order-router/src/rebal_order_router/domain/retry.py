"""Retry policy for broker calls: the attempts budget of one exactly-once submit, the numbers of
its bounded exponential backoff with jitter, and the longest Retry-After honoured, all set per
broker.

The delays themselves follow the runtime's one doubling rule, `rebal_runtime.backoff.Backoff`
(`service_layer.exactly_once.backoff_delay`): the domain imports no runtime
(tests/test_architecture.py), so it holds only the numbers.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6  # broker calls in one submit_exactly_once, lookups included
    base_delay: float = 0.2  # seconds before the 2nd attempt (before jitter)
    max_delay: float = 10.0  # cap of one backoff delay
    jitter: float = 0.5  # a delay is shortened by up to this fraction, at random
    max_retry_after: float = 60.0  # a longer Retry-After is handed to the caller instead

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        if not 0 <= self.jitter <= 1:
            raise ValueError("jitter must be within [0, 1]")
        if self.base_delay < 0 or self.max_delay < self.base_delay:
            raise ValueError("need 0 <= base_delay <= max_delay")
