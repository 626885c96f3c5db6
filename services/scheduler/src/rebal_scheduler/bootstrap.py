"""Wire the scheduler: settings -> runtime (store, broker, outbox) -> handlers -> router -> clock loop."""

from __future__ import annotations

from dataclasses import dataclass

from rebal_runtime.clock import Clock, SystemClock
from rebal_runtime.service import ServiceRuntime
from rebal_runtime.store import DocumentStore
from rebal_scheduler.adapters.schedule_store import schedule_repository
from rebal_scheduler.domain.trading_calendar import TradingCalendar
from rebal_scheduler.entrypoints.clock_loop import ClockLoop
from rebal_scheduler.entrypoints.kafka import build_router
from rebal_scheduler.service_layer.handlers import SchedulerHandlers
from rebal_scheduler.settings import SchedulerSettings


@dataclass(frozen=True)
class Scheduler:
    settings: SchedulerSettings
    runtime: ServiceRuntime
    handlers: SchedulerHandlers
    clock_loop: ClockLoop


def bootstrap(
    settings: SchedulerSettings | None = None,
    *,
    clock: Clock | None = None,
    calendar: TradingCalendar | None = None,
    store: DocumentStore | None = None,
) -> Scheduler:
    """Build a scheduler process; nothing connects until ``runtime.start()``.

    Tests pass a fake ``clock`` (and may share a ``calendar`` to skip reloading it).
    """
    settings = settings if settings is not None else SchedulerSettings()
    clock = clock if clock is not None else SystemClock()
    runtime = ServiceRuntime(settings, store=store)
    calendar = calendar if calendar is not None else runtime.trading_calendar()
    handlers = SchedulerHandlers(
        schedule_repository(runtime.store),
        calendar,
        settings.scheduler_config(),
        clock,
        settings.service_name,
    )
    runtime.include_router(build_router(settings, handlers))
    clock_loop = ClockLoop(handlers.tick, clock, settings.tick_seconds)
    # on_start runs after the store and the outbox relay are up; on_stop before they go down,
    # so the relay's final drain publishes what the last tick committed.
    runtime.on_start(clock_loop.start)
    runtime.on_stop(clock_loop.stop)
    return Scheduler(settings, runtime, handlers, clock_loop)
