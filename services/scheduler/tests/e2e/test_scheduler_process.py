"""`python -m rebal_scheduler` as a real process on the real clock, killed with SIGKILL and
restarted: no slot is emitted twice and the slots missed while it was down are caught up once.

The real clock needs slots that come due within seconds at any hour, so the process runs with
the test/demo knobs: the ALWAYS_OPEN calendar, a 00:00-23:59:59 window and a sweep every second.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from rebal_runtime.embedded import EmbeddedKafka
from rebal_runtime.testing.kafka import TopicReader
from rebal_runtime.testing.pytest_plugin import unique
from rebal_runtime.topics_admin import ensure_topics
from rebal_schemas import RebalanceRequested, decode

pytestmark = pytest.mark.kafka

SWEEP_EVERY = timedelta(seconds=1)
LATE_AFTER = timedelta(seconds=1.5)
DOWNTIME_SECONDS = 4.0


def scheduler_env(bootstrap: str, tmp_path: Path, group: str) -> dict[str, str]:
    return {
        **os.environ,
        "REBAL_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "REBAL_STORE_URL": f"sqlite:///{tmp_path / 'scheduler.sqlite'}",
        "REBAL_SERVICE_NAME": group,
        "REBAL_KAFKA_SESSION_TIMEOUT_MS": "2000",
        "REBAL_LOG_FORMAT": "json",
        "REBAL_PROFILE": "dev",  # the demo/test knobs below
        "REBAL_TRADING_CALENDAR": "ALWAYS_OPEN",
        "REBAL_TRADING_WINDOW_START": "00:00:00",
        "REBAL_TRADING_WINDOW_END": "23:59:59",
        "REBAL_CLOSE_MARGIN_MINUTES": "0",
        "REBAL_DRIFT_SWEEP_SECONDS": str(int(SWEEP_EVERY.total_seconds())),
        "REBAL_NIGHTLY_ENABLED": "false",
        "REBAL_LATE_AFTER_SECONDS": str(LATE_AFTER.total_seconds()),
        "REBAL_TICK_SECONDS": "0.2",
        "REBAL_OUTBOX_POLL_SECONDS": "0.1",
    }


def spawn(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "rebal_scheduler"],
            env=env,
            stdout=out,
            stderr=out,
            stdin=subprocess.DEVNULL,
        )


def sweeps_after(moment: datetime, count: int) -> Any:
    def seen(events: list[Any]) -> bool:
        return (
            sum(1 for e in events if e.reason == "drift_sweep" and e.occurred_at > moment) >= count
        )

    return seen


async def test_sigkill_and_restart_emit_no_slot_twice_and_catch_up_missed_ones(
    fresh_kafka: EmbeddedKafka, tmp_path: Path
) -> None:
    bootstrap = fresh_kafka.bootstrap_servers
    await ensure_topics(bootstrap)  # the reader must see all partitions of rebalance.requested
    env = scheduler_env(bootstrap, tmp_path, unique("scheduler"))
    log = tmp_path / "scheduler.log"
    processes: list[subprocess.Popen[bytes]] = []
    try:
        async with TopicReader(bootstrap, "rebalance.requested") as reader:
            started = datetime.now(UTC)
            processes.append(spawn(env, log))
            await reader.wait_for(sweeps_after(started, 3), timeout=60)
            processes[0].send_signal(signal.SIGKILL)
            processes[0].wait(10)
            killed = datetime.now(UTC)

            await asyncio.sleep(DOWNTIME_SECONDS)
            restarted = datetime.now(UTC)
            processes.append(spawn(env, log))
            await reader.wait_for(sweeps_after(restarted + timedelta(seconds=2), 2), timeout=60)
            processes[1].send_signal(signal.SIGTERM)
            assert processes[1].wait(30) == 0, "SIGTERM must stop the scheduler gracefully"
            await reader.settle(1.0)
            records = list(reader.records)
    except BaseException:
        sys.stderr.write(log.read_text(errors="replace")[-5000:])
        raise
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait(10)

    by_slot: dict[str, list[Any]] = defaultdict(list)
    for record in records:
        by_slot[decode("rebalance.requested", record.value).slot_id].append(record)  # type: ignore[attr-defined]
    # A slot is committed once. The only admissible repeat is the relay re-sending the same
    # committed record (SIGKILL between Kafka's ack and deleting it from the outbox): same bytes.
    repeats = {slot: rs for slot, rs in by_slot.items() if len(rs) > 1}
    assert all(len({r.value for r in rs}) == 1 for rs in repeats.values()), repeats
    assert len(repeats) <= 1  # at most the one in flight when the process was killed

    events: list[RebalanceRequested] = [
        decode("rebalance.requested", rs[0].value) for rs in by_slot.values()
    ]  # type: ignore[misc]
    sweeps = sorted((e for e in events if e.reason == "drift_sweep"), key=lambda e: e.occurred_at)
    assert {e.reason for e in events} == {"drift_sweep"}
    assert all(e.event_id == f"slot:{e.slot_id}" and e.scope == "all" for e in sweeps)
    # Gap-free from the first sweep to the last: the ones due while it was down were caught up.
    times = [e.occurred_at for e in sweeps]
    assert all(b - a == SWEEP_EVERY for a, b in itertools.pairwise(times)), times
    assert times[0] < killed < restarted < times[-1]
    # Due after the kill and more than LATE_AFTER before the new process even existed: only the
    # restarted process can have emitted them, and it found them late.
    missed = [e for e in sweeps if killed < e.occurred_at < restarted - LATE_AFTER]
    assert len(missed) >= 2
    assert all(e.late for e in missed)
    assert all(e.recorded_at >= restarted for e in missed)
