"""Settings from the environment, and the clock port."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from rebal_runtime.clock import FakeClock, SystemClock
from rebal_settlement_tracker.domain import SettlementCycles
from rebal_settlement_tracker.settings import SettlementSettings


def test_defaults() -> None:
    settings = SettlementSettings(_env_file=None)  # type: ignore[call-arg]
    assert settings.service_name == "settlement-tracker"
    assert settings.cycles() == SettlementCycles({}, 1)
    assert settings.trading_calendar == "XNYS"  # the runtime's setting
    assert "unblock_on" not in SettlementSettings.model_fields  # the optimizer's choice now
    assert settings.settlement_sweep_seconds == 30
    assert settings.cancel_wait() == timedelta(days=1)  # as the order-router keeps its copy


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REBAL_SETTLEMENT_CYCLE_DAYS", "0")
    monkeypatch.setenv("REBAL_SETTLEMENT_CYCLES", '{"us_equity": 2, "crypto": 0}')
    monkeypatch.setenv("REBAL_UNBLOCK_ON", "EXECUTED")  # a retired setting is ignored
    monkeypatch.setenv("REBAL_SETTLEMENT_SWEEP_SECONDS", "0.2")
    monkeypatch.setenv("REBAL_PENDING_CANCEL_SECONDS", "90")
    settings = SettlementSettings(_env_file=None)  # type: ignore[call-arg]
    cycles = settings.cycles()
    assert (cycles.days_for("us_equity"), cycles.days_for("crypto"), cycles.days_for("fx")) == (
        2,
        0,
        0,
    )
    assert settings.settlement_sweep_seconds == 0.2
    assert settings.cancel_wait() == timedelta(seconds=90)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("REBAL_SETTLEMENT_CYCLE_DAYS", "-1"),
        ("REBAL_SETTLEMENT_CYCLES", '{"us_equity": -1}'),
        ("REBAL_SETTLEMENT_SWEEP_SECONDS", "0"),
        ("REBAL_PENDING_CANCEL_SECONDS", "0"),
    ],
)
def test_invalid_values_are_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        SettlementSettings(_env_file=None)  # type: ignore[call-arg]


def test_every_setting_is_documented() -> None:
    undocumented = [n for n, f in SettlementSettings.model_fields.items() if not f.description]
    assert undocumented == []


def test_fake_clock_moves_only_when_told() -> None:
    start = datetime(2026, 3, 6, 21, tzinfo=UTC)
    clock = FakeClock(start)
    assert clock.now() == start
    assert clock.advance(timedelta(days=3)) == clock.now() == start + timedelta(days=3)
    clock.set(start)
    assert clock.now() == start
    with pytest.raises(ValueError, match="timezone-aware"):
        clock.set(datetime(2026, 3, 6))


def test_system_clock_is_aware_and_current() -> None:
    before = datetime.now(UTC)
    now = SystemClock().now()
    assert now.tzinfo is not None and before <= now <= datetime.now(UTC)
