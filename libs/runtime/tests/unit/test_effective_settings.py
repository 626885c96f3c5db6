"""The settings a service logs at start: every `REBAL_*` name with its value, secrets masked."""

from __future__ import annotations

import json

import pytest

from rebal_runtime.settings import RuntimeSettings, effective_settings
from rebal_runtime.settings_groups import GROUPS


def flat_names(settings_class: type[RuntimeSettings]) -> set[str]:
    """`REBAL_<NAME>` of every flat field, `REBAL_<GROUP>_<NAME>` of every grouped one."""
    names = set()
    for name in settings_class.model_fields:
        if name in GROUPS:
            names |= {f"REBAL_{name}_{sub}".upper() for sub in GROUPS[name].model_fields}
        else:
            names.add(f"REBAL_{name.upper()}")
    return names


def test_every_setting_is_listed_by_its_variable_name_and_secrets_are_masked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REBAL_KAFKA_SASL_PASSWORD", "hunter2-very-secret")
    monkeypatch.setenv("REBAL_SIGNING_KEY", "k" * 64)
    monkeypatch.setenv("REBAL_TRUSTED_SIGNERS", "order-router=" + "s" * 64)
    monkeypatch.setenv("REBAL_OUTBOX_BATCH", "7")
    shown = effective_settings(RuntimeSettings())

    assert set(shown) == flat_names(RuntimeSettings)
    assert shown["REBAL_OUTBOX_BATCH"] == 7
    assert shown["REBAL_KAFKA_BOOTSTRAP_SERVERS"] == "127.0.0.1:9092"
    assert shown["REBAL_TRADING_CALENDAR"] == "XNYS"
    assert shown["REBAL_MARKET_TIMEZONE"] == "America/New_York"
    text = json.dumps(shown)  # what the JSON log line carries
    assert "hunter2" not in text and "k" * 64 not in text and "s" * 64 not in text
    assert shown["REBAL_KAFKA_SASL_PASSWORD"] == "**********"


def test_the_names_are_the_old_flat_names_but_the_deprecated_ones() -> None:
    names = flat_names(RuntimeSettings)
    assert "REBAL_CONSUME_BATCH_WAIT_SECONDS" in names
    assert not names & {"REBAL_CONSUME_BATCH_WAIT_MS", "REBAL_CALENDAR_CODE", "REBAL_TIMEZONE"}
    assert {"REBAL_PROFILE", "REBAL_TRADING_CALENDAR", "REBAL_MARKET_TIMEZONE"} <= names
