"""RouterSettings: defaults, environment, secrets kept out of sight, derived values."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

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
    [("market_timezone", "Mars/Olympus"), ("reconcile_seconds", 0), ("dispatch_concurrency", 0)],
)
def test_invalid_settings_are_refused(field: str, value: object) -> None:
    with pytest.raises(ValidationError):
        RouterSettings(_env_file=None, **{field: value})  # type: ignore[call-arg, arg-type]


def test_every_router_field_is_documented() -> None:
    own = set(RouterSettings.model_fields) - {"service_name"}
    assert own, "no fields?"
    undocumented = [name for name in own if not RouterSettings.model_fields[name].description]
    assert undocumented == []
