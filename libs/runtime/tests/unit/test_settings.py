"""Grouped settings under their old flat variable names, deprecated names, units, the profile."""

from __future__ import annotations

import os

import pytest
from pydantic import SecretStr, ValidationError

from rebal_runtime.settings import RuntimeSettings, deprecated_names_in_use

# Every variable the runtime read before its settings were grouped (all but the deprecated
# REBAL_CONSUME_BATCH_WAIT_MS, below), a value, and where the code reads it now.
OLD_FLAT_NAMES = [
    ("REBAL_SERVICE_NAME", "svc", "service_name", "svc"),
    ("REBAL_KAFKA_BOOTSTRAP_SERVERS", "k1:9092,k2:9092", "kafka.bootstrap_servers", None),
    ("REBAL_KAFKA_IDEMPOTENT_PRODUCER", "true", "kafka.idempotent_producer", True),
    ("REBAL_KAFKA_SECURITY_PROTOCOL", "SASL_SSL", "kafka.security_protocol", None),
    ("REBAL_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512", "kafka.sasl_mechanism", None),
    ("REBAL_KAFKA_SASL_USERNAME", "optimizer", "kafka.sasl_username", None),
    ("REBAL_KAFKA_SASL_PASSWORD", "pw", "kafka.sasl_password", SecretStr("pw")),
    ("REBAL_KAFKA_SSL_CAFILE", "/etc/ca.pem", "kafka.ssl_cafile", None),
    ("REBAL_KAFKA_SESSION_TIMEOUT_MS", "2000", "kafka.session_timeout_ms", 2000),
    ("REBAL_KAFKA_FETCH_MAX_WAIT_MS", "50", "kafka.fetch_max_wait_ms", 50),
    ("REBAL_KAFKA_ENTRY_FETCH_MAX_WAIT_MS", "2", "kafka.entry_fetch_max_wait_ms", 2),
    ("REBAL_KAFKA_CREATE_TOPICS", "false", "kafka.create_topics", False),
    ("REBAL_STORE_URL", "mongodb://db:27017", "store.url", None),
    ("REBAL_STORE_SQLITE_INLINE", "false", "store.sqlite_inline", False),
    ("REBAL_STORE_DATABASE", "optimizer", "store.database", None),
    ("REBAL_PROCESSED_IDS_KEPT", "50", "processed_ids_kept", 50),
    ("REBAL_CONSUME_RETRIES", "0", "consume.retries", 0),
    ("REBAL_CONSUME_BATCH_MAX", "20", "consume.batch_max", 20),
    ("REBAL_RETRY_BACKOFF_SECONDS", "0.01", "retry_backoff_seconds", 0.01),
    ("REBAL_RETRY_BACKOFF_MAX_SECONDS", "1.5", "retry_backoff_max_seconds", 1.5),
    ("REBAL_GRACEFUL_TIMEOUT_SECONDS", "5", "graceful_timeout_seconds", 5.0),
    ("REBAL_OUTBOX_POLL_SECONDS", "0.05", "outbox.poll_seconds", 0.05),
    ("REBAL_OUTBOX_BATCH", "7", "outbox.batch", 7),
    ("REBAL_OUTBOX_LEASE_SECONDS", "90", "outbox.lease_seconds", 90.0),
    ("REBAL_SIGNING_KEY", "k" * 64, "signing_key", SecretStr("k" * 64)),
    ("REBAL_TRUSTED_SIGNERS", "a=" + "s" * 64, "trusted_signers", {"a": SecretStr("s" * 64)}),
    ("REBAL_READY_FILE", "/run/rebal/ready", "ready_file", None),
    ("REBAL_LOG_FORMAT", "json", "log_format", None),
    ("REBAL_LOG_LEVEL", "DEBUG", "log_level", None),
    ("REBAL_TRADING_CALENDAR", "XLON", "trading_calendar", None),
    ("REBAL_MARKET_TIMEZONE", "Europe/London", "market_timezone", None),
]


def read(settings: RuntimeSettings, path: str) -> object:
    value: object = settings
    for part in path.split("."):
        value = getattr(value, part)
    return value


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("REBAL_")]:
        monkeypatch.delenv(name)


@pytest.mark.parametrize(("name", "raw", "path", "value"), OLD_FLAT_NAMES)
def test_every_old_variable_name_reaches_its_field(
    monkeypatch: pytest.MonkeyPatch, name: str, raw: str, path: str, value: object
) -> None:
    default = read(RuntimeSettings(_env_file=None), path)  # type: ignore[call-arg]
    monkeypatch.setenv(name, raw)
    settings = RuntimeSettings(_env_file=None)  # type: ignore[call-arg]
    assert read(settings, path) == (raw if value is None else value) != default


def test_all_old_variable_names_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, raw, _, _ in OLD_FLAT_NAMES:
        monkeypatch.setenv(name, raw)
    settings = RuntimeSettings(_env_file=None)  # type: ignore[call-arg]
    for _, raw, path, value in OLD_FLAT_NAMES:
        assert read(settings, path) == (raw if value is None else value), path


def test_a_grouped_setting_may_be_given_by_its_flat_name() -> None:
    settings = RuntimeSettings(
        _env_file=None,  # type: ignore[call-arg]
        kafka_bootstrap_servers="k:1",
        store_url="memory://",
        kafka={"create_topics": False},
    )
    assert settings.kafka.bootstrap_servers == "k:1" and not settings.kafka.create_topics
    assert settings.store.url == "memory://"
    again = RuntimeSettings(**{**settings.model_dump(), "outbox_batch": 3})
    assert (again.kafka.bootstrap_servers, again.outbox.batch) == ("k:1", 3)


def test_batch_wait_is_seconds_and_its_old_milliseconds_name_is_converted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert RuntimeSettings(_env_file=None).consume.batch_wait_seconds == 0.005  # type: ignore[call-arg]
    monkeypatch.setenv("REBAL_CONSUME_BATCH_WAIT_MS", "20")
    assert RuntimeSettings(_env_file=None).consume.batch_wait_seconds == 0.02  # type: ignore[call-arg]
    monkeypatch.setenv("REBAL_CONSUME_BATCH_WAIT_SECONDS", "0.5")  # the new name wins
    assert RuntimeSettings(_env_file=None).consume.batch_wait_seconds == 0.5  # type: ignore[call-arg]
    monkeypatch.delenv("REBAL_CONSUME_BATCH_WAIT_SECONDS")
    assert RuntimeSettings(consume_batch_wait_ms=30).consume.batch_wait_seconds == 0.03


@pytest.mark.parametrize(
    ("old", "new", "path", "raw"),
    [
        ("REBAL_CALENDAR_CODE", "REBAL_TRADING_CALENDAR", "trading_calendar", "XLON"),
        ("REBAL_TIMEZONE", "REBAL_MARKET_TIMEZONE", "market_timezone", "Europe/London"),
    ],
)
def test_deprecated_names_still_work_and_lose_to_the_new_ones(
    monkeypatch: pytest.MonkeyPatch, old: str, new: str, path: str, raw: str
) -> None:
    monkeypatch.setenv(old, raw)
    assert read(RuntimeSettings(_env_file=None), path) == raw  # type: ignore[call-arg]
    assert deprecated_names_in_use(os.environ) == {old: new}
    monkeypatch.setenv(new, "XTKS" if path == "trading_calendar" else "Asia/Tokyo")
    assert read(RuntimeSettings(_env_file=None), path) != raw  # type: ignore[call-arg]


def test_unknown_market_zone_is_refused() -> None:
    with pytest.raises(ValidationError, match="unknown timezone"):
        RuntimeSettings(market_timezone="Mars/Olympus_Mons")
    assert str(RuntimeSettings().market_tz) == "America/New_York"


def test_prod_profile_refuses_the_always_open_calendar(monkeypatch: pytest.MonkeyPatch) -> None:
    assert RuntimeSettings(_env_file=None).profile == "prod"  # type: ignore[call-arg]
    monkeypatch.setenv("REBAL_TRADING_CALENDAR", "ALWAYS_OPEN")
    with pytest.raises(ValidationError, match="REBAL_PROFILE=dev"):
        RuntimeSettings(_env_file=None)  # type: ignore[call-arg]
    monkeypatch.setenv("REBAL_PROFILE", "dev")
    assert RuntimeSettings(_env_file=None).trading_calendar == "ALWAYS_OPEN"  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        RuntimeSettings(profile="staging")  # type: ignore[arg-type]
