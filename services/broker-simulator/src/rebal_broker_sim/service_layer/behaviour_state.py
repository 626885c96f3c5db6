"""The behaviour in force, changeable at run time, and its fault-injection counters."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from rebal_broker_sim.domain.behaviour import BehaviourConfig


class RuntimeBehaviour:
    """Holds the current `BehaviourConfig`; one process, one event loop, so no lock is needed."""

    def __init__(self, initial: BehaviourConfig | None = None) -> None:
        self._current = initial or BehaviourConfig()

    @property
    def current(self) -> BehaviourConfig:
        return self._current

    def update(self, **changes: Any) -> BehaviourConfig:
        """Replace some fields; invalid values raise ValueError and change nothing."""
        self._current = replace(self._current, **changes)
        return self._current

    def take_outage(self) -> bool:
        """True when this request must fail with 503 (consumes one of fail_next_n_requests)."""
        remaining = self._current.fail_next_n_requests
        if remaining <= 0:
            return False
        self._current = replace(self._current, fail_next_n_requests=remaining - 1)
        return True

    def take_dropped_response(self) -> bool:
        """True when the answer to an accepted order must be lost."""
        if self._current.drop_response_after_accept:
            return True
        remaining = self._current.drop_next_n_responses
        if remaining <= 0:
            return False
        self._current = replace(self._current, drop_next_n_responses=remaining - 1)
        return True
