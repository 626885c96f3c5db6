"""The grouped settings of every service (`settings.kafka`, `.store`, `.consume`, `.outbox`);
`rebal_runtime.settings.RuntimeSettings` reads them from their flat `REBAL_*` names."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, model_validator


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
