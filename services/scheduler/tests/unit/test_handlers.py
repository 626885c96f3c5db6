"""The service layer over the in-memory store and a fake clock: model updates, ticks,
restarts, missed slots and two schedulers racing on one store."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from rebal_runtime.calendar import ExchangeCalendar
from rebal_runtime.clock import FakeClock
from rebal_runtime.store import Commit, ConcurrencyError, Document, InMemoryStore
from rebal_scheduler.adapters.schedule_store import (
    SCHEDULE_COLLECTION,
    SCHEDULE_ID,
    schedule_repository,
    state_from_document,
)
from rebal_scheduler.domain import MissedSlotPolicy, SchedulerConfig
from rebal_scheduler.service_layer.handlers import SchedulerHandlers
from rebal_schemas import (
    ModelStatus,
    ModelUpdated,
    RebalanceCondition,
    RebalanceRequested,
    Weight,
    decode,
)

NY = ZoneInfo("America/New_York")
CONFIG = SchedulerConfig()


def ny(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=NY).astimezone(UTC)


def model_updated(
    model_id: str,
    calendar: tuple[str, str] | None = ("monthly", "15"),
    status: ModelStatus = ModelStatus.active,
) -> ModelUpdated:
    conditions = [RebalanceCondition(type="drift_band", sub_type="absolute", percent=Decimal("5"))]
    if calendar is not None:
        conditions.append(
            RebalanceCondition(type="calendar", sub_type=calendar[0], day=calendar[1])
        )  # type: ignore[arg-type]
    return ModelUpdated(
        model_id=model_id,
        name=f"model {model_id}",
        status=status,
        weights=(
            Weight(type="asset", symbol="AAPL", percent=Decimal("60")),
            Weight(type="cash", percent=Decimal("40")),
        ),
        rebalance_conditions=tuple(conditions),
    )


def handlers_on(
    store: InMemoryStore,
    clock: FakeClock,
    calendar: ExchangeCalendar,
    config: SchedulerConfig = CONFIG,
) -> SchedulerHandlers:
    return SchedulerHandlers(
        schedule_repository(store), calendar, config, clock, producer="scheduler"
    )


def published(store: InMemoryStore) -> list[RebalanceRequested]:
    events = [decode(m.topic, m.value) for m in store.outbox_messages()]
    assert all(isinstance(e, RebalanceRequested) for e in events)
    return events  # type: ignore[return-value]


async def run_clock(
    handlers: SchedulerHandlers, clock: FakeClock, until: datetime, step: timedelta
) -> None:
    while clock.now() < until:
        await handlers.tick(clock.advance(min(step, until - clock.now())))


async def schedule_models(store: InMemoryStore) -> set[str]:
    return set(state_from_document(await store.load(SCHEDULE_COLLECTION, SCHEDULE_ID)).models)


# --- model.updated -------------------------------------------------------------------------------


async def test_created_model_fires_on_the_rolled_back_trading_day(
    xnys: ExchangeCalendar,
) -> None:
    store, clock = InMemoryStore(), FakeClock(ny(2026, 3, 30))
    handlers = handlers_on(store, clock, xnys)
    await handlers.tick(clock.now())
    assert await handlers.on_model_updated(model_updated("m-fri", ("weekly", "Friday")))
    await run_clock(handlers, clock, ny(2026, 4, 11), timedelta(minutes=5))

    calendar = [e for e in published(store) if e.reason == "calendar"]
    # Friday 2026-04-03 is Good Friday (closed): the rebalance rolls back to Thursday.
    assert [e.slot_id for e in calendar] == [
        "calendar:m-fri:2026-04-02",
        "calendar:m-fri:2026-04-10",
    ]
    first = calendar[0]
    assert (first.scope, first.model_id, first.event_id) == (
        "model",
        "m-fri",
        "slot:calendar:m-fri:2026-04-02",
    )
    assert first.occurred_at == ny(2026, 4, 2, 9, 35)
    assert first.producer == "scheduler" and not first.late


async def test_changed_model_follows_its_new_calendar(xnys: ExchangeCalendar) -> None:
    store, clock = InMemoryStore(), FakeClock(ny(2026, 3, 2))
    handlers = handlers_on(store, clock, xnys)
    await handlers.tick(clock.now())
    await handlers.on_model_updated(model_updated("m", ("monthly", "5")))
    await run_clock(handlers, clock, ny(2026, 3, 6), timedelta(hours=1))
    await handlers.on_model_updated(model_updated("m", ("monthly", "20")))
    await run_clock(handlers, clock, ny(2026, 4, 30), timedelta(hours=1))
    slots = [e.slot_id for e in published(store) if e.reason == "calendar"]
    assert slots == ["calendar:m:2026-03-05", "calendar:m:2026-03-20", "calendar:m:2026-04-20"]


@pytest.mark.parametrize(
    "update",
    [
        model_updated("m", ("monthly", "10"), status=ModelStatus.inactive),
        # Alpaca stops queuing runs for a model that needs adjustment: unscheduled too.
        model_updated("m", ("monthly", "10"), status=ModelStatus.needs_adjustment),
        model_updated("m", calendar=None),  # drift band only
    ],
    ids=["inactive", "needs_adjustment", "no_calendar_condition"],
)
async def test_model_that_should_not_run_on_a_calendar_is_unscheduled(
    xnys: ExchangeCalendar, update: ModelUpdated
) -> None:
    store, clock = InMemoryStore(), FakeClock(ny(2026, 3, 2))
    handlers = handlers_on(store, clock, xnys)
    await handlers.tick(clock.now())
    await handlers.on_model_updated(model_updated("m", ("monthly", "10")))
    assert await schedule_models(store) == {"m"}
    await handlers.on_model_updated(update)
    assert await schedule_models(store) == set()
    await run_clock(handlers, clock, ny(2026, 3, 31), timedelta(hours=2))
    assert [e for e in published(store) if e.reason == "calendar"] == []
    assert [e for e in published(store) if e.reason == "nightly"]  # the clock did run


async def test_reactivated_model_is_scheduled_from_its_reactivation(
    xnys: ExchangeCalendar,
) -> None:
    store, clock = InMemoryStore(), FakeClock(ny(2026, 3, 2))
    handlers = handlers_on(store, clock, xnys)
    await handlers.tick(clock.now())
    await handlers.on_model_updated(
        model_updated("m", ("weekly", "Tuesday"), ModelStatus.needs_adjustment)
    )
    await run_clock(handlers, clock, ny(2026, 3, 4), timedelta(hours=1))  # Tuesday 03-03 passes
    await handlers.on_model_updated(model_updated("m", ("weekly", "Tuesday")))
    await run_clock(handlers, clock, ny(2026, 3, 12), timedelta(hours=1))
    assert [e.slot_id for e in published(store) if e.reason == "calendar"] == [
        "calendar:m:2026-03-10"
    ]


async def test_redelivered_model_update_is_recognised(xnys: ExchangeCalendar) -> None:
    store, clock = InMemoryStore(), FakeClock(ny(2026, 3, 2))
    handlers = handlers_on(store, clock, xnys)
    update = model_updated("m")
    assert await handlers.on_model_updated(update)
    commits = store.commits
    assert not await handlers.on_model_updated(update)
    assert store.commits == commits


# --- a year on the real calendar, with restarts ---------------------------------------------------

YEAR_MODELS = {
    "weekly-mon": ("weekly", "Monday"),
    "monthly-1": ("monthly", "1"),
    "monthly-31": ("monthly", "31"),
    "quarterly-31": ("quarterly", "31"),
    "annual-0704": ("annually", "07-04"),
    "annual-1225": ("annually", "12-25"),
}


async def test_a_year_of_ticks_emits_every_slot_once(xnys: ExchangeCalendar) -> None:
    import random

    from rebal_scheduler.domain import CalendarCondition, rebalance_dates

    start, end = ny(2026, 1, 1), ny(2027, 1, 1)
    store, clock = InMemoryStore(), FakeClock(start)
    handlers = handlers_on(store, clock, xnys)
    await handlers.tick(start)
    for model_id, calendar in YEAR_MODELS.items():
        await handlers.on_model_updated(model_updated(model_id, calendar))
    steps = random.Random(2026)
    month = clock.now().astimezone(NY).month
    while clock.now() < end:
        now = clock.advance(
            min(timedelta(minutes=steps.choice([1, 7, 30, 61, 180, 720])), end - clock.now())
        )
        if now.astimezone(NY).month != month:  # a restart every month: new objects, same store
            month, handlers = now.astimezone(NY).month, handlers_on(store, clock, xnys)
        await handlers.tick(now)

    events = published(store)
    assert len({e.event_id for e in events}) == len(events)
    assert all(e.event_id == f"slot:{e.slot_id}" for e in events)
    assert all(e.late == (e.recorded_at - e.occurred_at > CONFIG.late_after) for e in events)
    assert any(e.late for e in events) and not all(e.late for e in events)
    assert [e.occurred_at for e in events] == sorted(e.occurred_at for e in events)

    sessions = list(xnys.sessions_in_range(date(2026, 1, 1), date(2026, 12, 31)))
    nightly = [e for e in events if e.reason == "nightly"]
    assert [e.slot_id for e in nightly] == [f"nightly:{d}" for d in sessions]
    assert all(e.scope == "all" and e.model_id is None for e in nightly)
    sweeps = [e for e in events if e.reason == "drift_sweep"]
    assert len(sweeps) == (len(sessions) - 2) * 13 + 2 * 7  # two early closes: 7 sweeps each
    assert all(e.scope == "all" for e in sweeps)
    for model_id, (sub_type, day) in YEAR_MODELS.items():
        expected = rebalance_dates(
            CalendarCondition.parse(sub_type, day), date(2026, 1, 1), date(2026, 12, 31), xnys
        )
        mine = [e for e in events if e.model_id == model_id]
        assert [e.slot_id for e in mine] == [f"calendar:{model_id}:{d}" for d in expected]
        assert all(e.scope == "model" and e.reason == "calendar" for e in mine)
    assert len(events) == len(nightly) + len(sweeps) + sum(e.reason == "calendar" for e in events)


async def test_a_restart_at_the_same_or_an_earlier_time_emits_nothing_again(
    xnys: ExchangeCalendar,
) -> None:
    store, clock = InMemoryStore(), FakeClock(ny(2026, 3, 2))
    handlers = handlers_on(store, clock, xnys)
    await handlers.tick(clock.now())
    await handlers.on_model_updated(model_updated("m", ("monthly", "3")))
    await run_clock(handlers, clock, ny(2026, 3, 3, 12), timedelta(minutes=10))
    before = [e.event_id for e in published(store)]
    assert "slot:calendar:m:2026-03-03" in before

    restarted = handlers_on(store, clock, xnys)
    assert await restarted.tick(clock.now()) == []
    assert await restarted.tick(clock.now() - timedelta(hours=6)) == []  # a clock set back
    await run_clock(restarted, clock, ny(2026, 3, 3, 13), timedelta(minutes=10))
    after = [e.event_id for e in published(store)]
    assert after[: len(before)] == before
    assert after[len(before) :] == [
        "slot:drift_sweep:2026-03-03T17:30Z",
        "slot:drift_sweep:2026-03-03T18:00Z",
    ]


# --- missed slots while down ----------------------------------------------------------------------


async def down_from_monday_to_wednesday(
    xnys: ExchangeCalendar, policy: MissedSlotPolicy
) -> list[RebalanceRequested]:
    """Runs Monday 2026-03-02 until 10:00, is down until Wednesday 12:00, restarts."""
    config = SchedulerConfig(missed_slot_policy=policy)
    store, clock = InMemoryStore(), FakeClock(ny(2026, 3, 2))
    first = handlers_on(store, clock, xnys, config)
    await first.tick(clock.now())
    await first.on_model_updated(model_updated("m", ("weekly", "Tuesday")))
    await run_clock(first, clock, ny(2026, 3, 2, 10), timedelta(minutes=1))
    seen = len(published(store))
    clock.set(ny(2026, 3, 4, 12))
    restarted = handlers_on(store, clock, xnys, config)
    caught_up = await restarted.tick(clock.now())
    assert [e.event_id for e in published(store)][seen:] == [e.event_id for e in caught_up]
    assert await restarted.tick(clock.now() + timedelta(seconds=5)) == []
    return caught_up


async def test_run_late_catches_every_missed_slot_up_once(xnys: ExchangeCalendar) -> None:
    caught_up = await down_from_monday_to_wednesday(xnys, MissedSlotPolicy.RUN_LATE)
    sweeps = [e for e in caught_up if e.reason == "drift_sweep"]
    assert len(sweeps) == 11 + 13 + 6  # Monday 10:30-15:30, all of Tuesday, Wednesday 09:30-12:00
    assert [e.slot_id for e in caught_up if e.reason == "nightly"] == [
        "nightly:2026-03-03",
        "nightly:2026-03-04",
    ]
    assert [e.slot_id for e in caught_up if e.reason == "calendar"] == ["calendar:m:2026-03-03"]
    assert len(caught_up) == 33
    on_time = [e.slot_id for e in caught_up if not e.late]
    assert on_time == ["drift_sweep:2026-03-04T17:00Z"]  # Wednesday 12:00 EST is due right now
    assert [e.occurred_at for e in caught_up] == sorted(e.occurred_at for e in caught_up)


async def test_skip_emits_only_the_latest_missed_slot_of_each_series(
    xnys: ExchangeCalendar,
) -> None:
    caught_up = await down_from_monday_to_wednesday(xnys, MissedSlotPolicy.SKIP)
    assert [(e.slot_id, e.late) for e in caught_up] == [
        ("calendar:m:2026-03-03", True),
        ("nightly:2026-03-04", True),
        ("drift_sweep:2026-03-04T17:00Z", False),
    ]


# --- two schedulers on one store ------------------------------------------------------------------


class InterleavingStore(InMemoryStore):
    """Yields to the event loop on every load, so two schedulers both read the same
    version before either commits (the race the version check must settle)."""

    def __init__(self) -> None:
        super().__init__()
        self.conflicts = 0

    async def load(self, collection: str, doc_id: str) -> Document | None:
        doc = await super().load(collection, doc_id)
        await asyncio.sleep(0)
        return doc

    async def _commit(self, commit: Commit) -> int:
        try:
            return await super()._commit(commit)
        except ConcurrencyError:
            self.conflicts += 1
            raise


async def test_two_schedulers_racing_on_one_store_emit_each_slot_once(
    xnys: ExchangeCalendar,
) -> None:
    store, clock = InterleavingStore(), FakeClock(ny(2026, 3, 30))
    a, b = handlers_on(store, clock, xnys), handlers_on(store, clock, xnys)
    await asyncio.gather(a.tick(clock.now()), b.tick(clock.now()))
    # A model update lands while both tick: retried on conflict, never lost.
    await asyncio.gather(
        a.tick(clock.advance(timedelta(minutes=1))),
        b.on_model_updated(model_updated("m", ("weekly", "Friday"))),
        a.on_model_updated(model_updated("n", ("monthly", "1"))),
    )
    for index in range(2 * 24 * 12):  # 12 days in 30-minute steps
        now = clock.advance(timedelta(minutes=30))
        first, second = (a, b) if index % 2 else (b, a)
        results = await asyncio.gather(first.tick(now), second.tick(now))
        assert sum(len(r) for r in results) == len({e.event_id for r in results for e in r})

    events = published(store)
    ids = [e.event_id for e in events]
    assert len(ids) == len(set(ids))
    assert a.emitted + b.emitted == len(events)
    assert a.emitted > 0 and b.emitted > 0
    assert store.conflicts > 0
    assert {e.slot_id for e in events if e.reason == "calendar"} == {
        "calendar:m:2026-04-02",
        "calendar:n:2026-04-01",
        "calendar:m:2026-04-10",
    }
    sessions = xnys.sessions_in_range(date(2026, 3, 30), date(2026, 4, 10))
    assert [e.slot_id for e in events if e.reason == "nightly"] == [
        f"nightly:{d}" for d in sessions
    ]
    assert len([e for e in events if e.reason == "drift_sweep"]) == 13 * len(sessions)
