"""SchedulerSettings from the environment and their mapping onto the domain config."""

from __future__ import annotations

import os
from datetime import time, timedelta

import pytest
from pydantic import ValidationError

from rebal_scheduler.domain import MissedSlotPolicy, SchedulerConfig
from rebal_scheduler.settings import SchedulerSettings


def test_defaults_are_the_domain_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("REBAL_")]:
        monkeypatch.delenv(name)
    settings = SchedulerSettings()
    assert settings.service_name == "scheduler"
    assert settings.trading_calendar == "XNYS"
    assert settings.tick_seconds == 5.0
    assert settings.scheduler_config() == SchedulerConfig()


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        "REBAL_NIGHTLY_TIME": "22:15",
        "REBAL_DRIFT_SWEEP_MINUTES": "15",
        "REBAL_TRADING_WINDOW_START": "10:00",
        "REBAL_TRADING_WINDOW_END": "15:00",
        "REBAL_CALENDAR_TIME": "10:05",
        "REBAL_MISSED_SLOT_POLICY": "skip",
        "REBAL_LATE_AFTER_SECONDS": "60",
        "REBAL_QUARTER_MONTHS": "[1, 3, 6, 12]",
        "REBAL_TIMEZONE": "Europe/Brussels",  # deprecated name of REBAL_MARKET_TIMEZONE
        "REBAL_TICK_SECONDS": "0.5",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    config = SchedulerSettings().scheduler_config()
    assert config.nightly_time == time(22, 15)
    assert config.drift_sweep_every == timedelta(minutes=15)
    assert (config.trading_window_start, config.trading_window_end) == (time(10), time(15))
    assert config.missed_slot_policy is MissedSlotPolicy.SKIP
    assert config.late_after == timedelta(seconds=60)
    assert config.quarter_months == frozenset({1, 3, 6, 12})
    assert SchedulerSettings().market_timezone == "Europe/Brussels"


def test_sub_minute_sweeps_override_minutes() -> None:
    settings = SchedulerSettings(profile="dev", drift_sweep_minutes=30, drift_sweep_seconds=2)
    assert settings.scheduler_config().drift_sweep_every == timedelta(seconds=2)


def test_sub_minute_sweeps_are_refused_under_the_prod_profile() -> None:
    with pytest.raises(ValidationError, match="REBAL_DRIFT_SWEEP_SECONDS"):
        SchedulerSettings(profile="prod", drift_sweep_seconds=2)


@pytest.mark.parametrize(
    "overrides",
    [
        {"calendar_time": time(8, 0)},  # outside the trading window
        {"trading_window_start": time(16, 0)},
        {"timezone": "Mars/Olympus_Mons"},
        {"missed_slot_policy": "catch_up"},
        {"tick_seconds": 0},
        {"quarter_months": [13]},
    ],
)
def test_inconsistent_settings_fail_at_start(overrides: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        SchedulerSettings(**overrides)  # type: ignore[arg-type]
