"""RouterSettings: defaults, environment, secrets kept out of sight, derived values."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest
from pydantic import ValidationError

from rebal_order_router.adapters.clock import ShiftedClock
from rebal_order_router.bootstrap import alpaca_client
from rebal_order_router.settings import RouterSettings


def test_defaults_point_at_the_local_simulator() -> None:
    settings = RouterSettings(_env_file=None)  # type: ignore[call-arg]
    assert settings.service_name == "order-router"
    assert settings.broker_base_url == "http://127.0.0.1:8080"
    assert settings.broker_key.get_secret_value() == "sim-key"
    assert settings.stream_enabled is True
    assert settings.reconcile_seconds > 0


def test_environment_configures_the_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REBAL_BROKER_BASE_URL", "https://broker-api.sandbox.alpaca.markets")
    monkeypatch.setenv("REBAL_BROKER_KEY", "CKTESTKEY")
    monkeypatch.setenv("REBAL_BROKER_SECRET", "very-secret-value")
    monkeypatch.setenv("REBAL_RECONCILE_SECONDS", "5")
    monkeypatch.setenv("REBAL_STREAM_ENABLED", "false")
    settings = RouterSettings(_env_file=None)  # type: ignore[call-arg]
    assert settings.broker_base_url == "https://broker-api.sandbox.alpaca.markets"
    assert settings.broker_secret.get_secret_value() == "very-secret-value"
    assert settings.reconcile_seconds == 5.0
    assert settings.stream_enabled is False
    # the secret never shows in a repr, a dump, or the client built from the settings
    assert "very-secret-value" not in repr(settings)
    assert "very-secret-value" not in str(settings.model_dump())
    assert "very-secret-value" not in repr(alpaca_client(settings))


def test_retry_policy_and_market_zone_come_from_the_settings() -> None:
    settings = RouterSettings(
        _env_file=None,  # type: ignore[call-arg]
        retry_max_attempts=3,
        retry_base_delay_seconds=0.5,
        retry_max_delay_seconds=4,
        retry_jitter=0.25,
        market_timezone="Europe/Brussels",
    )
    policy = settings.retry_policy()
    assert (policy.max_attempts, policy.base_delay, policy.max_delay, policy.jitter) == (
        3,
        0.5,
        4.0,
        0.25,
    )
    evening = datetime(2024, 7, 1, 23, 30, tzinfo=UTC)
    assert evening.astimezone(settings.market_tz).date().isoformat() == "2024-07-02"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("market_timezone", "Mars/Olympus"),
        ("reconcile_seconds", 0),
        ("broker_requests_per_minute", 0),
        ("broker_max_in_flight", 0),
    ],
)
def test_invalid_settings_are_refused(field: str, value: object) -> None:
    with pytest.raises(ValidationError):
        RouterSettings(_env_file=None, **{field: value})  # type: ignore[call-arg, arg-type]


def test_every_router_field_is_documented() -> None:
    own = set(RouterSettings.model_fields) - {"service_name"}
    assert own, "no fields?"
    undocumented = [name for name in own if not RouterSettings.model_fields[name].description]
    assert undocumented == []


def test_the_execution_window_settings_and_their_defaults() -> None:
    settings = RouterSettings(_env_file=None)  # type: ignore[call-arg]
    assert (settings.execution_window_open, settings.execution_window_close) == (
        time(9, 30),
        time(15, 30),
    )
    assert settings.replan_price_tolerance == Decimal("0.02")
    assert settings.execution_start_rate > 0 and settings.clock_start_at is None
    with pytest.raises(ValidationError, match="before execution_window_close"):
        RouterSettings(
            _env_file=None,  # type: ignore[call-arg]
            execution_window_open=time(16),
            execution_window_close=time(9),
        )


def test_a_process_clock_that_starts_elsewhere_is_dev_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REBAL_CLOCK_START_AT", "2026-03-10T02:00:00-04:00")
    with pytest.raises(ValidationError, match="REBAL_PROFILE=dev"):
        RouterSettings(_env_file=None)  # type: ignore[call-arg]
    monkeypatch.setenv("REBAL_PROFILE", "dev")
    settings = RouterSettings(_env_file=None)  # type: ignore[call-arg]
    assert settings.clock_start_at == datetime(2026, 3, 10, 6, tzinfo=UTC)

    clock = ShiftedClock(settings.clock_start_at)
    assert abs(clock.now() - settings.clock_start_at) < timedelta(seconds=5)
    assert clock.now().tzinfo is not None


def test_kept_cancels_expire_after_a_day_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    assert RouterSettings(_env_file=None).pending_cancel_seconds == 86400  # type: ignore[call-arg]
    monkeypatch.setenv("REBAL_PENDING_CANCEL_SECONDS", "3600")
    assert RouterSettings(_env_file=None).pending_cancel_seconds == 3600  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        RouterSettings(_env_file=None, pending_cancel_seconds=0)  # type: ignore[call-arg]


def test_the_broker_limits_default_to_alpacas_and_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = RouterSettings(_env_file=None)  # type: ignore[call-arg]
    assert (settings.broker_requests_per_minute, settings.broker_max_in_flight) == (200, 8)
    monkeypatch.setenv("REBAL_BROKER_REQUESTS_PER_MINUTE", "1000")
    monkeypatch.setenv("REBAL_BROKER_MAX_IN_FLIGHT", "4")
    settings = RouterSettings(_env_file=None)  # type: ignore[call-arg]
    assert (settings.broker_requests_per_minute, settings.broker_max_in_flight) == (1000, 4)
