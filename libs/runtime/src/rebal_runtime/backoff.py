"""The one doubling-delay rule: `first`, then `factor` times longer each attempt, capped at
`maximum`, optionally shortened at random by up to `jitter` of itself (pure: the randomness is
passed in, so a test picks it)."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    first: float
    maximum: float
    factor: float = 2.0
    jitter: float = 0.0  # a delay is shortened by up to this fraction, at random

    def __post_init__(self) -> None:
        if self.first < 0 or self.maximum < 0:
            raise ValueError("backoff delays must be >= 0")
        if self.factor < 1:
            raise ValueError("backoff factor must be >= 1")
        if not 0 <= self.jitter <= 1:
            raise ValueError("jitter must be within [0, 1]")

    def delay(self, attempt: int, random_fraction: float = 0.0) -> float:
        """The wait before retry number `attempt` (0-based: attempt 0 waits `first`), in
        [(1 - jitter) * cap, cap] with cap = min(maximum, first * factor ** attempt)."""
        if attempt < 0:
            raise ValueError("attempt must be >= 0")
        if not 0 <= random_fraction <= 1:
            raise ValueError("random_fraction must be within [0, 1]")
        cap = min(self.maximum, self.first * self.factor ** min(attempt, self._steps_to_cap()))
        return cap * (1 - self.jitter * random_fraction)

    def _steps_to_cap(self) -> int:
        # Past this exponent the delay is `maximum` anyway; bounding it means a huge attempt
        # count cannot overflow the power.
        if self.factor == 1 or self.first == 0 or self.first >= self.maximum:
            return 0
        steps = math.log(self.maximum / self.first) / math.log(self.factor)
        return math.ceil(steps) + 1  # one more: rounding never leaves the cap short
