"""`dead.letter`: a message that can never be processed, kept whole with the reason."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime

from rebal_schemas.envelope import Event

TOPIC = "dead.letter"


class MessageDeadLettered(Event):
    """The original bytes are base64 so that undecodable input survives the trip intact. A message too
    large to forward whole keeps its first `MAX_KEPT_BYTES` (`truncated`, `original_size`)."""

    MAX_KEPT_BYTES: ClassVar[int] = 256_000

    TOPIC = TOPIC
    event_type: Literal["message.dead_lettered"] = "message.dead_lettered"
    original_topic: str
    partition: int
    offset: int
    key: str | None = None
    original_value_b64: str
    original_size: int = 0
    truncated: bool = False
    original_headers: dict[str, str] = {}
    consumer_group: str
    error_type: str
    reason: str
    failed_at: AwareDatetime
