"""The orjson codec: events to bytes and back, with upcasting and errors that say what is wrong.

Every refusal is a `PoisonMessage` (its `reason` goes to dead.letter): not JSON, not an object,
too large, nested too deeply, a key twice in one object (`MalformedMessage`), or valid JSON that
is not an event of the topic (`SchemaViolation`, including the bounds of `rebal_schemas.types`).
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from pydantic import ValidationError

from rebal_schemas.envelope import Event
from rebal_schemas.topics import TOPICS, topic_of
from rebal_schemas.upcasting import upcast

MAX_MESSAGE_BYTES = 1_000_000

Raw = bytes | bytearray | memoryview | str


class PoisonMessage(Exception):
    """A message that will never be processed, whatever the retries: goes to dead.letter."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MalformedMessage(PoisonMessage):
    """Not JSON, not an object, too large, too deep, or with a duplicate key."""


class SchemaViolation(PoisonMessage):
    """Valid JSON that does not match any event of the topic."""


class KeyMismatch(PoisonMessage):
    """A record whose Kafka key is not the key its event gives (`key_of`), or has no key."""


def encode(event: Event) -> bytes:
    return event.__pydantic_serializer__.to_json(event)


def key_of(event: Event) -> bytes:
    return topic_of(event).key_of(event)


def loads(raw: Raw, *, event_id: str | None = None) -> dict[str, Any]:
    """Parse and upcast one message body; `MalformedMessage` if it is not a JSON object.

    `event_id` is the id to give a payload that carries none (absent or null): the consume layer
    passes one derived from the record's coordinates, so every decode of that record, and every
    redelivery, validates to the same event id.
    """
    if len(raw) > MAX_MESSAGE_BYTES:
        raise MalformedMessage(f"message of {len(raw)} bytes exceeds {MAX_MESSAGE_BYTES}")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise MalformedMessage(f"not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise MalformedMessage(f"expected a JSON object, got {type(data).__name__}")
    refuse_duplicate_keys(raw, data)
    if event_id is not None and data.get("event_id") is None:
        data["event_id"] = event_id
    return upcast(data)


def refuse_duplicate_keys(raw: Raw, data: Any) -> None:
    """`MalformedMessage` if an object of `raw` (which parsed to `data`) has a key twice.

    orjson keeps the last value of a repeated key; a reader in another language may keep the
    first, so one message could mean two things. The check counts instead of parsing again:
    every key of `raw` is followed by one `:`, and every other `:` of `raw` is inside a string,
    literal or escaped (`\\u003a`, `\\u003A`). `data` re-serialized by orjson (compact, never
    escaping `:`) has one `:` per key it kept plus the colons of its strings. So when `raw` has no
    more colons, literal or escaped, than the re-serialization, no key was dropped. Otherwise (a
    duplicate, or a `\\u003x` that is no colon) the standard library's parser decides, exactly.
    """
    text = raw.encode() if isinstance(raw, str) else bytes(raw)  # bytes(b) of bytes is b itself
    colons = text.count(b":")
    if b"\\" in text:  # rare: add every `\u003x`, a superset of the escaped colons
        colons += text.count(b"\\u003")
    try:
        canonical = orjson.dumps(data)
    except orjson.JSONEncodeError:
        raise MalformedMessage("JSON nested too deeply") from None
    if colons <= canonical.count(b":"):
        return
    try:
        json.loads(text, object_pairs_hook=_unique_keys, parse_int=_ignore, parse_float=_ignore)
    except (ValueError, RecursionError) as exc:  # orjson read it: not expected, but refused
        raise MalformedMessage(f"not valid JSON: {exc}") from None


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise MalformedMessage(f"duplicate key {_shown(key)} in a JSON object")
            seen.add(key)
    return result


def _ignore(text: str) -> None:
    # The exact check needs the keys only; numbers were parsed (and are validated) already.
    return None


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


def decode(topic: str, raw: Raw, *, event_id: str | None = None) -> Event:
    """Bytes to an event of `topic`. A payload without `event_id` gets `event_id` if given, else a
    new random one: a consumer of Kafka passes the record's (see `loads`)."""
    return validate(topic, loads(raw, event_id=event_id))


def check_key(topic: str, key: bytes | None, data: dict[str, Any]) -> None:
    """`KeyMismatch` unless the record's Kafka `key` is the key of the event `data` decodes to.

    A payload whose key field is absent or not a string is left to validation (it is refused with
    that reason). Otherwise a missing or different key is refused: the key decides the partition,
    and a portfolio's events are ordered only if they all share one (docs/design.md §2). When the payload
    is also invalid, the schema's reason is given, as it would have been without the key check.
    """
    spec = TOPICS.get(topic)
    if spec is None:
        return
    expected = spec.key_of_payload(data)
    if expected is None or key == expected.encode():
        return
    validate(topic, data)  # a SchemaViolation says more than the key
    field = spec.key_field_of_payload(data)
    if key is None:
        raise KeyMismatch(
            f"message has no key: {topic} is keyed by {field} ({_shown(expected)} here)"
        )
    shown = key.decode(errors="replace")
    raise KeyMismatch(
        f"key {_shown(shown)} does not match {field} {_shown(expected)}: "
        f"{topic} is keyed by {field}"
    )


def _shown(text: str) -> str:
    return repr(text if len(text) <= 64 else text[:64] + "...")


def describe(exc: ValidationError) -> str:
    """One line per error, `field.path: message`, without echoing the whole input back."""
    lines = []
    for err in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(p) for p in err["loc"]) or "(root)"
        lines.append(f"{where}: {err['msg']}")
    return "; ".join(lines)
