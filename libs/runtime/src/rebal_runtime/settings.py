"""Settings of every rebal service, from environment variables (prefix `REBAL_`) or a `.env` file.

Each setting has one flat name, its variable without `REBAL_` (`kafka_bootstrap_servers` is
`REBAL_KAFKA_BOOTSTRAP_SERVERS`), and the code reads it grouped: `settings.kafka.bootstrap_servers`.
The groups are `kafka`, `store`, `consume` and `outbox`; the rest is flat, the market included
(`trading_calendar`, `market_timezone`). A group's setting may be passed by its flat name too
(`RuntimeSettings(store_url=...)`), as the environment does. Durations are seconds
(`*_seconds`), except the Kafka client options Kafka itself defines in milliseconds (`*_ms`).

`profile` (`REBAL_PROFILE`) is `prod` by default, which refuses the settings that exist only for
demos and tests (the `ALWAYS_OPEN` calendar, the scheduler's sub-minute sweeps, the optimizer
without decision records); the embedded stack and the tests run with `dev`.

Deprecated names, read for one release (`DEPRECATED_NAMES`; a service warns at start when it
finds one): `REBAL_CALENDAR_CODE` (use `REBAL_TRADING_CALENDAR`), `REBAL_TIMEZONE` (use
`REBAL_MARKET_TIMEZONE`), `REBAL_CONSUME_BATCH_WAIT_MS` (use `REBAL_CONSUME_BATCH_WAIT_SECONDS`;
the milliseconds are converted).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import tzinfo
from typing import Annotated, Any, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from rebal_runtime.calendar import ALWAYS_OPEN
from rebal_runtime.settings_groups import (
    GROUPS,
    ConsumeSettings,
    KafkaSettings,
    OutboxSettings,
    StoreSettings,
)
from rebal_runtime.signing import TRUSTED_SIGNERS_ENV, parse_trusted_signers

DEPRECATED_NAMES: Mapping[str, str] = {
    "REBAL_CALENDAR_CODE": "REBAL_TRADING_CALENDAR",
    "REBAL_TIMEZONE": "REBAL_MARKET_TIMEZONE",
    "REBAL_CONSUME_BATCH_WAIT_MS": "REBAL_CONSUME_BATCH_WAIT_SECONDS",
}
"""Old variable name -> its new name; both work for one release, the new one wins."""


class RuntimeSettings(BaseSettings):
    """Shared by every service; services subclass it for their own settings."""

    model_config = SettingsConfigDict(
        env_prefix="REBAL_",
        env_file=".env",
        extra="ignore",
        # REBAL_KAFKA_BOOTSTRAP_SERVERS -> kafka.bootstrap_servers: one split after the group
        env_nested_delimiter="_",
        env_nested_max_split=1,
        # aliases (the deprecated names) get the prefix too: REBAL_CALENDAR_CODE
        env_prefix_target="all",
    )

    service_name: str = Field(
        "rebal", description="Consumer group id, `producer` of events, log field."
    )
    profile: Literal["dev", "prod"] = Field(
        "prod",
        description="`prod` (default) refuses the settings that exist only for demos and tests "
        "(the ALWAYS_OPEN calendar, sub-minute drift sweeps, no decision records), with the "
        "reason; `dev` allows them (the embedded stack of `make dev` and `make demo`, tests).",
    )
    kafka: KafkaSettings = Field(default_factory=KafkaSettings, description="`REBAL_KAFKA_*`.")
    store: StoreSettings = Field(default_factory=StoreSettings, description="`REBAL_STORE_*`.")
    consume: ConsumeSettings = Field(
        default_factory=ConsumeSettings, description="`REBAL_CONSUME_*`."
    )
    outbox: OutboxSettings = Field(default_factory=OutboxSettings, description="`REBAL_OUTBOX_*`.")

    trading_calendar: str = Field(
        "XNYS",
        validation_alias=AliasChoices("trading_calendar", "calendar_code"),
        description="The market's trading calendar (`rebal_runtime.calendar`): an "
        "exchange_calendars code (XNYS = New York Stock Exchange) or `ALWAYS_OPEN`, where every "
        "day is a session from 00:00 to 24:00 in the market time zone (demos and tests only: "
        "refused under the prod profile). Deprecated name: `REBAL_CALENDAR_CODE`.",
    )
    market_timezone: str = Field(
        "America/New_York",
        validation_alias=AliasChoices("market_timezone", "timezone"),
        description="IANA zone of the market: what day it is (a fill's trade date, one "
        "automatic rebalance per trading day, settlement dates) and every configured time of "
        "day (the scheduler's slots and trading window) are read in it. Keep it the calendar's "
        "exchange zone (America/New_York for XNYS); sessions stay the exchange's. Deprecated "
        "name: `REBAL_TIMEZONE`.",
    )

    processed_ids_kept: int = Field(
        1000, ge=10, description="Processed event ids remembered per aggregate (inbox window)."
    )
    retry_backoff_seconds: float = Field(
        0.2, gt=0, description="First retry delay; doubles each time."
    )
    retry_backoff_max_seconds: float = Field(10.0, gt=0, description="Longest retry delay.")
    graceful_timeout_seconds: float = Field(
        30.0,
        gt=0,
        description="On shutdown, wait this long for in-flight handlers; unfinished work is "
        "never committed.",
    )

    signing_key: SecretStr | None = Field(
        None,
        description="This service's producer-signature key (env `REBAL_SIGNING_KEY`; never "
        "logged). When set, the outbox relay signs every record it publishes as "
        "`service_name` (header `rebal-signature`, HMAC-SHA256; see `rebal_runtime.signing`).",
    )
    trusted_signers: Annotated[dict[str, SecretStr], NoDecode] = Field(
        default_factory=dict,
        description="Keys of the producers whose signatures this service verifies, as "
        "`name=key[,name=key...]` or a JSON object (env `REBAL_TRUSTED_SIGNERS`; never logged). "
        "Empty: nothing is verified and the broker's ACLs alone decide who wrote a record.",
    )

    ready_file: str | None = Field(
        None,
        description="Written once every consumer of the service has its partitions assigned (a "
        "readiness probe for compose health checks and the embedded stack); removed on stop.",
    )

    log_format: Literal["auto", "json", "console"] = Field(
        "auto", description="`auto`: human-readable on a terminal, JSON otherwise."
    )
    log_level: str = Field("INFO", description="Python log level name.")

    @model_validator(mode="before")
    @classmethod
    def _flat_names(cls, data: Any) -> Any:
        """`store_url=...` is `store={"url": ...}`, as `REBAL_STORE_URL` is in the environment
        (a flat name wins over its group's dict: only keywords give flat names)."""
        if not isinstance(data, Mapping):
            return data
        data = dict(data)
        for key in [k for k in data if isinstance(k, str) and k not in cls.model_fields]:
            group, _, name = key.partition("_")
            if group in GROUPS and name:
                nested = data.get(group)
                if isinstance(nested, BaseModel):
                    nested = nested.model_dump()
                data[group] = {**(nested if isinstance(nested, Mapping) else {}), name: data[key]}
                del data[key]
        return data

    @field_validator("trusted_signers", mode="before")
    @classmethod
    def _parse_trusted_signers(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        try:
            if value.lstrip().startswith("{"):
                return json.loads(value)
            return parse_trusted_signers(value)
        except ValueError as error:
            # Raising would make pydantic quote the input, keys included, in the error: instead
            # name the problem where the error shows its location, with a value it refuses.
            return {f"<unreadable {TRUSTED_SIGNERS_ENV}: {type(error).__name__}>": None}

    @field_validator("market_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {value!r}") from None
        return value

    @model_validator(mode="after")
    def _demo_calendar_needs_dev(self) -> Self:
        if self.trading_calendar.upper() == ALWAYS_OPEN:
            self.require_dev(
                "REBAL_TRADING_CALENDAR=ALWAYS_OPEN", "every day is a session, at any hour"
            )
        return self

    def require_dev(self, setting: str, what: str) -> None:
        """Refuse a demo/test-only `setting` unless the profile is `dev`."""
        if self.profile != "dev":
            raise ValueError(
                f"{setting} is a demo/test setting ({what}), refused under REBAL_PROFILE="
                f"{self.profile} (the default): set REBAL_PROFILE=dev to use it"
            )

    @property
    def market_tz(self) -> tzinfo:
        return ZoneInfo(self.market_timezone)


def deprecated_names_in_use(environ: Mapping[str, str]) -> dict[str, str]:
    """The deprecated variables set in `environ`, each with the name to use instead."""
    names = {name.upper() for name in environ}
    return {old: new for old, new in DEPRECATED_NAMES.items() if old in names}


def effective_settings(settings: BaseSettings) -> dict[str, object]:
    """What a process runs with, as `REBAL_*` name -> value (a group's settings by their flat
    names), secrets masked: logged at start so a person reading the log knows the configuration
    without reading the environment."""
    prefix = str(settings.model_config.get("env_prefix", "")).upper()
    shown: dict[str, object] = {}
    for name, value in settings.model_dump(mode="json").items():  # SecretStr: "**********"
        if isinstance(getattr(settings, name), BaseModel):
            shown.update({f"{prefix}{name}_{sub}".upper(): v for sub, v in value.items()})
        else:
            shown[f"{prefix}{name}".upper()] = value
    return dict(sorted(shown.items()))
