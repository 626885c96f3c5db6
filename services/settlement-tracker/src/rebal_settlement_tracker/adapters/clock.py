"""The clock port of this service: the shared one from the runtime (system clock; a settable fake
clock for tests, whose `sleep` wakes as soon as the time is moved)."""

from rebal_runtime.clock import Clock, FakeClock, SystemClock

__all__ = ["Clock", "FakeClock", "SystemClock"]
