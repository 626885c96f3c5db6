"""The clock port is the runtime's (`rebal_runtime.clock`); this re-export is left only for
`service_layer/handlers.py`, which still imports it from here. New code imports the runtime's."""

from rebal_runtime.clock import Clock, FakeClock, SystemClock

__all__ = ["Clock", "FakeClock", "SystemClock"]
