"""The orjson codec: events to bytes and back, with upcasting and errors that say what is wrong."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import ValidationError

from rebal_schemas.envelope import Event
from rebal_schemas.topics import TOPICS, topic_of
from rebal_schemas.upcasting import upcast

MAX_MESSAGE_BYTES = 1_000_000


class PoisonMessage(Exception):
    """A message that will never be processed, whatever the retries: goes to dead.letter."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MalformedMessage(PoisonMessage):
    """Not JSON, not an object, or too large."""


class SchemaViolation(PoisonMessage):
    """Valid JSON that does not match any event of the topic."""


def encode(event: Event) -> bytes:
    return event.__pydantic_serializer__.to_json(event)


def key_of(event: Event) -> bytes:
    return topic_of(event).key_of(event)


def loads(raw: bytes | bytearray | memoryview | str) -> dict[str, Any]:
    """Parse and upcast one message body; `MalformedMessage` if it is not a JSON object."""
    if len(raw) > MAX_MESSAGE_BYTES:
        raise MalformedMessage(f"message of {len(raw)} bytes exceeds {MAX_MESSAGE_BYTES}")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise MalformedMessage(f"not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise MalformedMessage(f"expected a JSON object, got {type(data).__name__}")
    return upcast(data)


def validate(topic: str, data: dict[str, Any]) -> Event:
    try:
        spec = TOPICS[topic]
    except KeyError:
        raise SchemaViolation(f"unknown topic {topic!r}") from None
    try:
        event: Event = spec.adapter.validate_python(data)
    except ValidationError as exc:
        raise SchemaViolation(describe(exc)) from None
    return event


def decode(topic: str, raw: bytes | bytearray | memoryview | str) -> Event:
    return validate(topic, loads(raw))


def describe(exc: ValidationError) -> str:
    """One line per error, `field.path: message`, without echoing the whole input back."""
    lines = []
    for err in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(p) for p in err["loc"]) or "(root)"
        lines.append(f"{where}: {err['msg']}")
    return "; ".join(lines)
