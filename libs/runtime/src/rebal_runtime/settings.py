"""Settings of every rebal service, from environment variables (prefix `REBAL_`) or a `.env` file."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from rebal_runtime.signing import TRUSTED_SIGNERS_ENV, parse_trusted_signers


class RuntimeSettings(BaseSettings):
    """Shared by every service; services subclass it for their own settings."""

    model_config = SettingsConfigDict(env_prefix="REBAL_", env_file=".env", extra="ignore")

    service_name: str = Field(
        "rebal", description="Consumer group id, `producer` of events, log field."
    )
    kafka_bootstrap_servers: str = Field(
        "127.0.0.1:9092", description="Comma-separated host:port list."
    )
    kafka_idempotent_producer: bool = Field(
        False,
        description="Kafka idempotent producer. On for real Kafka; must stay off on the embedded "
        "Tansu broker, which cannot answer InitProducerId.",
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="How to reach Kafka."
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        "PLAIN", description="SASL mechanism when the protocol is SASL_*."
    )
    kafka_sasl_username: str | None = Field(None, description="SASL user.")
    kafka_sasl_password: SecretStr | None = Field(None, description="SASL password (never logged).")
    kafka_ssl_cafile: str | None = Field(None, description="CA bundle for SSL / SASL_SSL.")
    kafka_session_timeout_ms: int = Field(
        10000,
        ge=1000,
        description="Consumer group session timeout. Tansu makes a joining member "
        "wait about half of it, so the embedded stack and tests use 2000.",
    )
    kafka_fetch_max_wait_ms: int = Field(
        500,
        ge=0,
        description="Longest time a fetch waits at the broker for data (Kafka's default 500). "
        "Tansu answers an empty fetch only after this wait, which adds up to it to every hop, "
        "so the embedded stack uses a few milliseconds.",
    )
    kafka_entry_fetch_max_wait_ms: int | None = Field(
        None,
        ge=0,
        description="Fetch wait of the batch subscribers, which read the topics clients publish "
        "to in volume (the optimizer's portfolio.patched and rebalance.requested): the first hop "
        "of every request. Default: `kafka_fetch_max_wait_ms`. On Tansu a short wait here buys "
        "latency where it counts without making every idle consumer poll fast.",
    )
    kafka_create_topics: bool = Field(
        True, description="Create missing topics with their partitions at start."
    )

    store_url: str = Field(
        "sqlite:///var/rebal.sqlite",
        description="`sqlite:///path/file.sqlite` (embedded default) or `mongodb://host:27017`.",
    )
    store_sqlite_inline: bool = Field(
        True,
        description="Run SQLite calls on the event loop (fast local file; a worker-thread hop "
        "costs more than the statement). Turn off when another process may hold the store file "
        "locked for long.",
    )
    store_database: str = Field("rebal", description="MongoDB database name (one per service).")
    processed_ids_kept: int = Field(
        1000, ge=10, description="Processed event ids remembered per aggregate (inbox window)."
    )

    consume_retries: int = Field(
        5,
        ge=0,
        description="In-process retries of a failing handler before it is nacked (transient) or dead-lettered (other errors).",
    )
    consume_batch_max: int = Field(
        500,
        ge=1,
        description="Most messages a batch subscriber (the optimizer's hot topics) handles and "
        "commits together. Under load this turns one store write and one offset commit per "
        "message into one per batch; idle, a batch is whatever one poll returned.",
    )
    consume_batch_wait_ms: int = Field(
        5,
        ge=1,
        description="How long a batch subscriber's poll waits for data; an empty poll then sleeps "
        "as long again (FastStream), so this bounds the delay it adds to a message.",
    )
    retry_backoff_seconds: float = Field(
        0.2, gt=0, description="First retry delay; doubles each time."
    )
    retry_backoff_max_seconds: float = Field(10.0, gt=0, description="Longest retry delay.")
    graceful_timeout_seconds: float = Field(
        30.0,
        gt=0,
        description="On shutdown, wait this long for in-flight handlers; unfinished work is never committed.",
    )

    outbox_poll_seconds: float = Field(
        0.5, gt=0, description="Outbox relay poll interval (it is also woken on every commit)."
    )
    outbox_batch: int = Field(500, ge=1, description="Messages the relay publishes per round.")
    outbox_lease_seconds: float = Field(
        60.0,
        gt=0,
        description="How long a relay's claim on outbox rows keeps other relays sharing the store "
        "(the other instances of the service) off them. Must be longer than a publish round "
        "(the relay's send timeout is 30 s): a lease that expires mid-publish lets another relay "
        "send the rows again (harmless, consumers dedupe on event_id). A crashed relay's rows "
        "are published by another after at most this long.",
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


def effective_settings(settings: BaseSettings) -> dict[str, object]:
    """What a process runs with, as `REBAL_*` name -> value, secrets masked: logged at start so
    a person reading the log knows the configuration without reading the environment."""
    prefix = str(settings.model_config.get("env_prefix", "")).upper()
    values = settings.model_dump(mode="json")  # SecretStr dumps as "**********"
    return {f"{prefix}{name.upper()}": value for name, value in sorted(values.items())}
