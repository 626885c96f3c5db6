"""The envelope every event carries (docs/design.md §2) and the base class of all events."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from rebal_schemas.types import EntityId, new_id, utc_now


class Event(BaseModel):
    """Base of every event: frozen, tolerant of unknown fields, with id, version and times.

    `event_id` is the idempotency key: consumers record it and ignore a second delivery. A
    payload without one gets a new random id here (`new_id`); a consumer reading Kafka derives a
    stable one from the record's coordinates first (`rebal_runtime.consume.coordinates_id`), so a
    redelivery of that record is recognised.
    """

    model_config = ConfigDict(frozen=True, extra="ignore", use_enum_values=False)

    TOPIC: ClassVar[str]
    SCHEMA_VERSION: ClassVar[int] = 1

    event_id: EntityId = Field(default_factory=new_id)
    event_type: str
    schema_version: int = 1
    occurred_at: AwareDatetime = Field(default_factory=utc_now, description="source time")
    recorded_at: AwareDatetime = Field(
        default_factory=utc_now, description="time rebal or the producer recorded it"
    )
    producer: EntityId = "client"
    correlation_id: EntityId | None = Field(
        default=None, description="optimization/run id once one exists"
    )
    causation_id: EntityId | None = Field(
        default=None, description="event_id of the event that caused this one"
    )

    @model_validator(mode="after")
    def _known_version(self) -> Event:
        # The upcaster chain brings old payloads to the current version before validation, so
        # anything else here comes from a newer producer this consumer does not understand yet.
        if self.schema_version != self.SCHEMA_VERSION:
            raise ValueError(
                f"unsupported schema_version {self.schema_version} for {self.event_type} "
                f"(this consumer knows version {self.SCHEMA_VERSION})"
            )
        return self

    def caused(self, **envelope: Any) -> dict[str, Any]:
        """Envelope fields for an event caused by this one (keeps the correlation chain)."""
        fields: dict[str, Any] = {
            "causation_id": self.event_id,
            "correlation_id": self.correlation_id,
        }
        fields.update(envelope)
        return fields
