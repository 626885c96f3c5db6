"""The scheduler's two use cases: learn a model's calendar, and emit what is due.

Both read and write the one schedule document through the runtime's
``Repository.update`` (``apply_once`` underneath): a slot's
request goes into the outbox in the same versioned write that advances the
watermarks past it, so a slot is emitted once however many schedulers tick
(the loser of a race fails the version check, reloads and finds nothing due)
and however often one restarts. Every request also carries an event id derived
from its slot, so even schedulers with separate stores produce one event id.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from rebal_runtime.clock import Clock
from rebal_runtime.log import get_logger
from rebal_runtime.repository import Outcome, Repository
from rebal_scheduler.domain.config import SchedulerConfig
from rebal_scheduler.domain.schedule_state import ScheduleState, apply_model_updated, due_slots
from rebal_scheduler.domain.trading_calendar import TradingCalendar
from rebal_scheduler.service_layer.requests import rebalance_request, scheduled_condition
from rebal_schemas import ModelUpdated, RebalanceRequested

log = get_logger(__name__)

SCHEDULE_ID = "default"
"""The whole schedule is one aggregate: every scheduler sharing a store shares it."""

CHECKPOINT_EVERY = timedelta(minutes=1)
"""A tick with nothing due still saves the advanced watermarks this often.

Skipping most empty writes keeps two schedulers from contending every few
seconds; saving now and then bounds how far back a changed calendar condition
can reach (a watermark never lags ``now`` by more than this plus a tick)."""


class SchedulerHandlers:
    def __init__(
        self,
        schedule: Repository[ScheduleState],
        calendar: TradingCalendar,
        config: SchedulerConfig,
        clock: Clock,
        producer: str,
    ) -> None:
        self.schedule = schedule
        self.calendar = calendar
        self.config = config
        self.clock = clock
        self.producer = producer
        self.emitted = 0
        """Requests this instance committed (tests compare instances)."""

    async def on_model_updated(self, event: ModelUpdated) -> bool:
        """Schedule, reschedule or unschedule the model's calendar condition.

        The model is scheduled from when it was created, as its producer says,
        but from no earlier than ``late_after`` before this scheduler learns
        about it: a model read a little late (consumer lag, a restart) still gets
        the slot that passed meanwhile, and replaying old model.updated events
        never emits slots from the past. Returns False for a redelivered event
        (inbox).
        """
        condition = scheduled_condition(event)
        learnt_at = self.clock.now()
        grace = self.config.late_after
        created_at = max(min(event.occurred_at, learnt_at), learnt_at - grace)

        def learn(current: ScheduleState | None) -> Outcome[ScheduleState] | None:
            state = _or_first_start(current)
            updated = apply_model_updated(
                state,
                event.model_id,
                condition,
                active=condition is not None,
                at=created_at,
                grace=grace,
            )
            return None if updated == state else Outcome(updated)

        applied = await self.schedule.apply(SCHEDULE_ID, event.event_id, learn)
        if applied:
            log.info(
                "model schedule updated",
                model_id=event.model_id,
                status=event.status.value,
                calendar=None
                if condition is None
                else f"{condition.sub_type.value} {condition.day}",
            )
        return applied

    async def tick(self, now: datetime) -> list[RebalanceRequested]:
        """Emit one request per slot due in ``(watermark, now]``; returns those this
        call committed (empty when another scheduler got there first)."""
        committed: list[RebalanceRequested] = []

        def emit(current: ScheduleState | None) -> Outcome[ScheduleState] | None:
            # May run several times (version conflicts): only the last run is committed.
            state = _or_first_start(current)
            slots, advanced = due_slots(state, now, self.calendar, self.config)
            requests = [rebalance_request(slot, now, self.producer) for slot in slots]
            committed[:] = requests
            if not requests and not _checkpoint_due(state, advanced):
                return None
            return Outcome(advanced, publish=requests)

        await self.schedule.update(SCHEDULE_ID, None, emit)
        self.emitted += len(committed)
        for request in committed:
            log.info(
                "rebalance requested",
                slot_id=request.slot_id,
                reason=request.reason.value,
                scope=request.scope,
                late=request.late,
            )
        return committed


def _or_first_start(current: ScheduleState | None) -> ScheduleState:
    """A missing schedule is a first start: no models, no watermarks."""
    return current if current is not None else ScheduleState()


def _checkpoint_due(before: ScheduleState, after: ScheduleState) -> bool:
    if before.processed_through is None or after.processed_through is None:
        return True
    if set(after.watermarks) != set(before.watermarks):
        return True  # a model learnt before the first tick got its watermark
    return after.processed_through - before.processed_through >= CHECKPOINT_EVERY
