"""The settings a service logs at start: every `REBAL_*` name with its value, secrets masked."""

from __future__ import annotations

import json

import pytest

from rebal_runtime.settings import RuntimeSettings, effective_settings


def test_every_setting_is_listed_by_its_variable_name_and_secrets_are_masked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REBAL_KAFKA_SASL_PASSWORD", "hunter2-very-secret")
    monkeypatch.setenv("REBAL_SIGNING_KEY", "k" * 64)
    monkeypatch.setenv("REBAL_TRUSTED_SIGNERS", "order-router=" + "s" * 64)
    monkeypatch.setenv("REBAL_OUTBOX_BATCH", "7")
    shown = effective_settings(RuntimeSettings())

    assert set(shown) == {f"REBAL_{name.upper()}" for name in RuntimeSettings.model_fields}
    assert shown["REBAL_OUTBOX_BATCH"] == 7
    text = json.dumps(shown)  # what the JSON log line carries
    assert "hunter2" not in text and "k" * 64 not in text and "s" * 64 not in text
    assert shown["REBAL_KAFKA_SASL_PASSWORD"] == "**********"
