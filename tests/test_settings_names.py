"""Every `REBAL_*` name a service logs at start (`effective_settings`) is a variable it reads, into
the field of that name: the runtime's groups (`REBAL_KAFKA_BOOTSTRAP_SERVERS` is
`settings.kafka.bootstrap_servers`) and every service's own fields alike."""

from __future__ import annotations

import json
import os

import pytest
from pydantic_settings import EnvSettingsSource

from rebal_optimizer.settings import OptimizerSettings
from rebal_order_router.settings import RouterSettings
from rebal_runtime.settings import RuntimeSettings, effective_settings
from rebal_runtime.settings_groups import GROUPS
from rebal_scheduler.settings import SchedulerSettings
from rebal_settlement_tracker.settings import SettlementSettings

SERVICE_SETTINGS: list[type[RuntimeSettings]] = [
    OptimizerSettings,
    RouterSettings,
    SchedulerSettings,
    SettlementSettings,
]


def as_variable(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return value if isinstance(value, str) else json.dumps(value)


def field_of(name: str, settings_class: type[RuntimeSettings]) -> tuple[str, ...]:
    """Where `REBAL_<NAME>` belongs: (field,) or (group, field)."""
    flat = name.removeprefix("REBAL_").lower()
    group, _, sub = flat.partition("_")
    if group in GROUPS and flat not in settings_class.model_fields:
        return (group, sub)
    return (flat,)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("REBAL_")]:
        monkeypatch.delenv(name)


@pytest.mark.parametrize("settings_class", SERVICE_SETTINGS, ids=lambda c: c.__name__)
def test_every_logged_name_is_read_into_its_field(
    monkeypatch: pytest.MonkeyPatch, settings_class: type[RuntimeSettings]
) -> None:
    shown = effective_settings(settings_class(_env_file=None))  # type: ignore[call-arg]
    covered = set()
    for name, value in shown.items():
        monkeypatch.setenv(name, "" if value is None else as_variable(value))
        read = EnvSettingsSource(settings_class)()
        monkeypatch.delenv(name)
        path = field_of(name, settings_class)
        found: object = read
        for part in path:
            assert isinstance(found, dict) and part in found, f"{name} is not read into {path}"
            found = found[part]
        covered.add(path[0])
    assert covered == set(settings_class.model_fields)


@pytest.mark.parametrize("settings_class", SERVICE_SETTINGS, ids=lambda c: c.__name__)
def test_no_service_field_takes_a_group_name(settings_class: type[RuntimeSettings]) -> None:
    own = set(settings_class.model_fields) - set(RuntimeSettings.model_fields)
    assert [n for n in own if n.partition("_")[0] in GROUPS] == []
    assert not own & {"trading_calendar", "market_timezone", "calendar_code", "timezone"}
