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
from rebal_runtime.signing import TRUSTED_SIGNERS_ENV, parse_trusted_signers

DEPRECATED_NAMES: Mapping[str, str] = {
    "REBAL_CALENDAR_CODE": "REBAL_TRADING_CALENDAR",
    "REBAL_TIMEZONE": "REBAL_MARKET_TIMEZONE",
    "REBAL_CONSUME_BATCH_WAIT_MS": "REBAL_CONSUME_BATCH_WAIT_SECONDS",
}
"""Old variable name -> its new name; both work for one release, the new one wins."""


class KafkaSettings(BaseModel):
    """`REBAL_KAFKA_*`: how to reach Kafka, and the options of its clients."""

    bootstrap_servers: str = Field("127.0.0.1:9092", description="Comma-separated host:port list.")
    idempotent_producer: bool = Field(
        False,
        description="Kafka idempotent producer. On for real Kafka; must stay off on the embedded "
        "Tansu broker, which cannot answer InitProducerId.",
    )
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="How to reach Kafka."
    )
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        "PLAIN", description="SASL mechanism when the protocol is SASL_*."
    )
    sasl_username: str | None = Field(None, description="SASL user.")
    sasl_password: SecretStr | None = Field(None, description="SASL password (never logged).")
    ssl_cafile: str | None = Field(None, description="CA bundle for SSL / SASL_SSL.")
    session_timeout_ms: int = Field(
        10000,
        ge=1000,
        description="Consumer group session timeout, in milliseconds like Kafka's own "
        "`session.timeout.ms`. Tansu makes a joining member wait about half of it, so the "
        "embedded stack and tests use 2000.",
    )
    fetch_max_wait_ms: int = Field(
        500,
        ge=0,
        description="Longest time a fetch waits at the broker for data, in milliseconds like "
        "Kafka's own `fetch.max.wait.ms` (default 500). Tansu answers an empty fetch only after "
        "this wait, which adds up to it to every hop, so the embedded stack uses a few ms.",
    )
    entry_fetch_max_wait_ms: int | None = Field(
        None,
        ge=0,
        description="`fetch_max_wait_ms` (milliseconds, Kafka's unit) of the batch subscribers, "
        "which read the topics clients publish to in volume (the optimizer's portfolio.patched "
        "and rebalance.requested): the first hop of every request. Default: "
        "`fetch_max_wait_ms`. On Tansu a short wait here buys latency where it counts without "
        "making every idle consumer poll fast.",
    )
    create_topics: bool = Field(
        True, description="Create missing topics with their partitions at start."
    )


class StoreSettings(BaseModel):
    """`REBAL_STORE_*`: the service's own database."""

    url: str = Field(
        "sqlite:///var/rebal.sqlite",
        description="`sqlite:///path/file.sqlite` (embedded default) or `mongodb://host:27017`.",
    )
    sqlite_inline: bool = Field(
        True,
        description="Run SQLite calls on the event loop (fast local file; a worker-thread hop "
        "costs more than the statement). Turn off when another process may hold the store file "
        "locked for long.",
    )
    database: str = Field("rebal", description="MongoDB database name (one per service).")


class ConsumeSettings(BaseModel):
    """`REBAL_CONSUME_*`: how subscribers handle what they read."""

    retries: int = Field(
        5,
        ge=0,
        description="In-process retries of a failing handler before it is nacked (transient) "
        "or dead-lettered (other errors).",
    )
    batch_max: int = Field(
        500,
        ge=1,
        description="Most messages a batch subscriber (the optimizer's hot topics) handles and "
        "commits together. Under load this turns one store write and one offset commit per "
        "message into one per batch; idle, a batch is whatever one poll returned.",
    )
    batch_wait_seconds: float = Field(
        0.005,
        ge=0.001,
        description="How long a batch subscriber's poll waits for data; an empty poll then "
        "sleeps as long again (FastStream), so this bounds the delay it adds to a message. "
        "Deprecated name: `REBAL_CONSUME_BATCH_WAIT_MS` (milliseconds, converted).",
    )

    @model_validator(mode="before")
    @classmethod
    def _deprecated_batch_wait_ms(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "batch_wait_ms" in data:
            data = dict(data)
            milliseconds = data.pop("batch_wait_ms")
            data.setdefault("batch_wait_seconds", float(milliseconds) / 1000)
        return data


class OutboxSettings(BaseModel):
    """`REBAL_OUTBOX_*`: the relay that publishes what the store committed."""

    poll_seconds: float = Field(
        0.5, gt=0, description="Outbox relay poll interval (it is also woken on every commit)."
    )
    batch: int = Field(500, ge=1, description="Messages the relay publishes per round.")
    lease_seconds: float = Field(
        60.0,
        gt=0,
        description="How long a relay's claim on outbox rows keeps other relays sharing the store "
        "(the other instances of the service) off them. Must be longer than a publish round "
        "(the relay's send timeout is 30 s): a lease that expires mid-publish lets another relay "
        "send the rows again (harmless, consumers dedupe on event_id). A crashed relay's rows "
        "are published by another after at most this long.",
    )


GROUPS: Mapping[str, type[BaseModel]] = {
    "kafka": KafkaSettings,
    "store": StoreSettings,
    "consume": ConsumeSettings,
    "outbox": OutboxSettings,
}
"""The setting groups: `REBAL_<GROUP>_<NAME>` is `settings.<group>.<name>`."""


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
