"""One readable line per event for `rebal follow`."""

from __future__ import annotations

from rebal_schemas import (
    Event,
    MessageDeadLettered,
    OptimizationCreated,
    OptimizationReady,
    OptimizationStatusChanged,
    RunCompleted,
)


def render_event(topic: str, event: Event | None, error: str | None) -> str:
    if event is None:
        return f"{topic:<22} UNDECODABLE  {error}"
    at = event.occurred_at.strftime("%H:%M:%S")
    if isinstance(event, RunCompleted):
        filled = sum(1 for o in event.orders if o.filled_qty > 0)
        return (
            f"{at} {topic:<22} {event.portfolio_id:<14} {event.status:<18} {event.run_type:<14} "
            f"orders {filled}/{len(event.orders)} cash {event.cash_delta:+}"
        )
    if isinstance(event, OptimizationCreated):
        return (
            f"{at} {topic:<22} {event.portfolio_id:<14} {event.status:<18} {event.run_type:<14} "
            f"trigger {event.trigger} orders {len(event.orders)} {event.optimization_id}"
        )
    if isinstance(event, OptimizationStatusChanged):
        return (
            f"{at} {topic:<22} {event.portfolio_id:<14} {event.status:<18} {event.optimization_id}"
        )
    if isinstance(event, OptimizationReady):
        return (
            f"{at} {topic:<22} {event.portfolio_id:<14} {'READY':<18} {event.run_type:<14} "
            f"orders {len(event.orders)} {event.optimization_id}"
        )
    if isinstance(event, MessageDeadLettered):
        return f"{at} {topic:<22} {event.original_topic}@{event.offset} {event.error_type}: {event.reason[:120]}"
    return f"{at} {topic:<22} {event.event_type} {event.event_id}"
