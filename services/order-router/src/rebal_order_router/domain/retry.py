"""Retry policy for broker calls: bounded exponential backoff with jitter (pure arithmetic;
the randomness is passed in).

A domain rule of its own rather than `rebal_runtime.backoff.Backoff`: the domain imports no
runtime (tests/test_architecture.py), and the policy is more than a delay (the attempts budget
of one exactly-once submit, the longest Retry-After honoured), all set per broker.
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


def backoff_delay(policy: RetryPolicy, failures: int, random_fraction: float) -> float:
    """Delay after the `failures`-th consecutive failure (1-based), in
    [(1 - jitter) * cap, cap] with cap = min(max_delay, base_delay * 2 ** (failures - 1))."""
    if failures < 1:
        raise ValueError("failures must be >= 1")
    if not 0 <= random_fraction <= 1:
        raise ValueError("random_fraction must be within [0, 1]")
    # min() before the power would overflow for a huge count: cap the exponent first.
    cap = min(policy.max_delay, policy.base_delay * 2.0 ** min(failures - 1, 62))
    return cap * (1 - policy.jitter * random_fraction)
