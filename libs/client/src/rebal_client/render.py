"""One readable line per event for `rebal follow`."""

from __future__ import annotations

from rebal_schemas import (
    Event,
    MessageDeadLettered,
    ModelStatusChanged,
    OptimizationCreated,
    OptimizationReady,
    OptimizationStatusChanged,
    RequestRejected,
    RunCompleted,
    RunCreated,
    RunSettled,
    RunStatusChanged,
)


def render_event(topic: str, event: Event | None, error: str | None) -> str:
    if event is None:
        return f"{topic:<22} UNDECODABLE  {error}"
    at = event.occurred_at.strftime("%H:%M:%S")
    if isinstance(event, RunCompleted):
        filled = len(event.orders)
        total = filled + len(event.failed_orders)
        return (
            f"{at} {topic:<22} {event.portfolio_id:<14} {event.status:<18} {event.type:<14} "
            f"orders {filled}/{total} cash {event.cash_delta:+}"
        )
    if isinstance(event, RunCreated | RunStatusChanged):
        return (
            f"{at} {topic:<22} {event.portfolio_id:<14} {event.status:<18} {event.type:<14} "
            f"{event.id}{' ' + event.reason if event.reason else ''}"
        )
    if isinstance(event, RunSettled):
        return f"{at} {topic:<22} {event.portfolio_id:<14} {event.status:<18} {event.run_id}"
    if isinstance(event, RequestRejected):
        subject = event.portfolio_id or event.model_id
        return (
            f"{at} {topic:<22} {subject:<14} {event.reason_code:<18} {event.message} "
            f"(refused {event.request_event_type} {event.causation_id})"
        )
    if isinstance(event, ModelStatusChanged):
        return (
            f"{at} {topic:<22} {event.model_id:<14} {event.status:<18} "
            f"{', '.join(event.symbols)} {event.reason}"
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
