"""The broker watchdog's rules without a broker: loss after N failed checks (one warning, the
ready file's hook once), reminders at doubling intervals, recovery, lost topics re-created with
their configured partitions, log-end offsets going down = records lost; and the log limiter."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import pytest

from rebal_runtime.clock import FakeClock
from rebal_runtime.log import RepeatLimiter
from rebal_runtime.settings import RuntimeSettings
from rebal_runtime.watchdog import (
    BrokerWatchdog,
    Partition,
    ReminderBackoff,
    TopicCheck,
    WatchdogSettings,
    offsets_went_back,
)

WANTED = [("a", 6), ("b", 1)]


class FakeProbe:
    def __init__(self) -> None:
        self.present: dict[str, int] | None = {"a": 6, "b": 1}  # None: unreachable
        self.ends: dict[Partition, int] = {}

    async def topics(self) -> dict[str, int]:
        if self.present is None:
            raise ConnectionError("refused")
        return dict(self.present)

    async def end_offsets(self, topics: dict[str, int]) -> dict[Partition, int]:
        return {tp: end for tp, end in self.ends.items() if tp[0] in topics}

    async def close(self) -> None:
        return None


class Recorder:
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.created: list[list[tuple[str, int]]] = []

    async def lost(self, reason: str) -> None:
        self.calls.append(f"lost: {reason}")

    async def back(self) -> None:
        self.calls.append("back")

    async def data_lost(self, reason: str) -> None:
        self.calls.append(f"data lost: {reason}")

    async def create(self, topics: list[tuple[str, int]]) -> list[str]:
        self.created.append(topics)
        return [name for name, _ in topics]


def watchdog(
    probe: FakeProbe, rec: Recorder, *, create: bool = True, clock: FakeClock | None = None
) -> BrokerWatchdog:
    dog = BrokerWatchdog(
        RuntimeSettings(service_name="svc", kafka_create_topics=create),  # type: ignore[call-arg]
        WANTED,
        on_lost=rec.lost,
        on_back=rec.back,
        watch=WatchdogSettings(broker_watch_failures=2),  # type: ignore[call-arg]
        probe=probe,
        create_topics=rec.create,
        clock=clock,
    )
    dog.on_data_lost.append(rec.data_lost)
    return dog


async def test_lost_after_two_failed_checks_then_back() -> None:
    probe, rec = FakeProbe(), Recorder()
    dog = watchdog(probe, rec)
    await dog.check_once()
    assert rec.calls == [] and not dog.lost
    probe.present = None
    await dog.check_once()
    assert rec.calls == [] and not dog.lost  # one failure is not a loss
    await dog.check_once()
    await dog.check_once()
    assert dog.lost and dog.reason is not None and "unreachable" in dog.reason
    assert len(rec.calls) == 1 and rec.calls[0].startswith("lost: broker unreachable")
    probe.present = {"a": 6, "b": 1}
    await dog.check_once()
    assert rec.calls[-1] == "back" and not dog.lost and dog.losses == 1


async def test_missing_topics_are_recreated_with_their_partitions_and_count_as_data_loss() -> None:
    probe, rec = FakeProbe(), Recorder()
    dog = watchdog(probe, rec)
    probe.present = {"b": 1}  # the broker came back without "a" (between two checks)
    await dog.check_once()
    assert rec.created == [[("a", 6)]]
    assert rec.calls[0].startswith("lost: broker lost its topics")
    assert rec.calls[1].startswith("data lost: topics re-created: a")
    assert rec.calls[2] == "back"


async def test_missing_topics_without_create_keep_the_service_not_ready() -> None:
    probe, rec = FakeProbe(), Recorder()
    dog = watchdog(probe, rec, create=False)
    probe.present = {"b": 1}
    for _ in range(3):
        await dog.check_once()
    assert rec.created == []
    assert dog.lost and dog.reason == "topics missing on the broker: a"


async def test_log_end_offsets_going_down_mean_lost_records() -> None:
    probe, rec = FakeProbe(), Recorder()
    dog = watchdog(probe, rec)
    probe.ends = {("a", 0): 5, ("a", 1): 0}
    await dog.check_once()
    probe.ends = {("a", 0): 7, ("a", 1): 1}
    await dog.check_once()
    assert rec.calls == []
    probe.ends = {("a", 0): 2, ("a", 1): 1}  # restarted empty, refilled a little
    await dog.check_once()
    assert rec.calls == ["data lost: log-end offsets went down on 1 partitions"]


async def test_checks_run_on_the_clock_and_a_stop_lets_the_check_in_hand_finish() -> None:
    probe, rec = FakeProbe(), Recorder()
    clock = FakeClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
    dog = watchdog(probe, rec, clock=clock)
    checking, release = asyncio.Event(), asyncio.Event()
    answered: list[bool] = []
    original = probe.topics

    async def slow_topics() -> dict[str, int]:
        checking.set()
        await release.wait()
        answered.append(True)
        return await original()

    probe.present = None  # unreachable: every check fails
    await dog.start()
    for _ in range(2):  # one check at start, the next one when the clock moves
        await asyncio.sleep(0.02)
        clock.advance(timedelta(seconds=1))
    await asyncio.sleep(0.02)
    assert dog.lost and rec.calls[0].startswith("lost: broker unreachable")
    probe.present = {"a": 6, "b": 1}
    probe.topics = slow_topics  # type: ignore[method-assign]
    clock.advance(timedelta(seconds=1))
    await asyncio.wait_for(checking.wait(), 1)
    stopping = asyncio.create_task(dog.stop())
    await asyncio.sleep(0.02)
    assert not stopping.done()  # the check in progress is not cut in half
    release.set()
    await asyncio.wait_for(stopping, 1)
    assert answered == [True] and rec.calls[-1] == "back" and not dog.lost


def test_pure_rules() -> None:
    check = TopicCheck.of({"a": 4, "c": 1}, WANTED)
    assert check.missing == ("b",)
    assert check.wrong_partitions == (("a", 4, 6),)
    assert offsets_went_back({("a", 0): 3, ("a", 1): 0}, {("a", 0): 1, ("a", 1): 0}) == [("a", 0)]
    assert offsets_went_back({}, {("a", 0): 0}) == []


def test_reminders_back_off() -> None:
    backoff = ReminderBackoff(first=4, maximum=20)
    backoff.start(0)
    due = [t for t in range(0, 100) if backoff.due(t)]
    assert due == [4, 12, 28, 48, 68, 88]  # after 4, then every 8, 16, 20, 20, ... s


@pytest.mark.parametrize("seconds", [0.5])
def test_repeat_limiter_lets_a_flood_through_at_doubling_intervals(seconds: float) -> None:
    now = [0.0]
    limiter = RepeatLimiter(base_seconds=1.0, max_seconds=8.0, clock=lambda: now[0])

    def record() -> logging.LogRecord:
        return logging.LogRecord("aiokafka", logging.ERROR, "x", 1, "Unable %s", ("n",), None)

    passed: list[tuple[float, str]] = []
    while now[0] < 30:
        r = record()
        if limiter.filter(r):
            passed.append((now[0], r.getMessage()))
        now[0] += seconds
    assert [t for t, _ in passed] == [0.0, 1.0, 3.0, 7.0, 15.0, 23.0]
    assert passed[1][1] == "Unable n (1 like it dropped; next in 2s at most)"
    other = logging.LogRecord("aiokafka", logging.ERROR, "x", 1, "Other %s", ("n",), None)
    assert limiter.filter(other)  # each message template has its own budget
    now[0] += 60  # quiet long enough: the next one passes and the interval starts over
    assert limiter.filter(record())
