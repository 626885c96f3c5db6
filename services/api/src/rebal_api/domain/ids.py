"""Alpaca's ids are UUIDs; rebal's are strings. How one becomes the other (pure).

- A rebal id that is a UUID (what the api itself creates) is that UUID.
- A ULID (what rebal's `new_id` makes: every event id, so every request the api publishes)
  converts losslessly: its 128 bits are the UUID's.
- Any other id (`p-0001`, the optimizer's `O...` optimization ids) maps to a name-based UUID
  (uuid5) of its kind and id, the same everywhere and forever; the projection keeps both.

Stream event ids are ULIDs, as Alpaca's are: the time they were recorded and 80 random bits.
"""

from __future__ import annotations

import functools
import uuid
from datetime import UTC, datetime, timedelta

from ulid import ULID

NAMESPACE = uuid.UUID("6f1c3c52-9a57-4c8e-9d0b-2f5a4e1d7b30")
"""The uuid5 namespace of rebal ids that are neither UUIDs nor ULIDs (never change it)."""
NIL = str(uuid.UUID(int=0))
"""The `portfolio_id` of a run that follows no model (its own weights)."""


def canonical_uuid(text: str) -> str | None:
    """`text` as a lower-case hyphenated UUID, or None when it is not one in that form."""
    try:
        parsed = uuid.UUID(text)
    except ValueError:
        return None
    return str(parsed) if str(parsed) == text.lower() else None


def ulid_uuid(text: str | None) -> str | None:
    """The UUID of a ULID (lossless), or None when `text` is not a ULID."""
    if text is None or len(text) != 26:
        return None
    try:
        return str(ULID.from_str(text).to_uuid())
    except ValueError:
        return None


@functools.lru_cache(maxsize=1 << 16)
def to_uuid(kind: str, rebal_id: str) -> str:
    """The Alpaca id of rebal's `rebal_id` of this `kind` (model, account, run, order...);
    remembered, since every answer about a run names several (a pure function)."""
    return canonical_uuid(rebal_id) or ulid_uuid(rebal_id) or name_uuid(kind, rebal_id)


@functools.lru_cache(maxsize=1 << 16)
def name_uuid(kind: str, name: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{kind}:{name}"))


def new_uuid(at: datetime) -> str:
    """A fresh id for what the api creates: a ULID of `at` as a UUID (time-ordered)."""
    return str(ULID.from_datetime(at).to_uuid())


def new_ulid(at: datetime, after: str | None = None) -> str:
    """A fresh ULID of `at`, greater than `after` (ids made in one millisecond stay ordered)."""
    made = ULID.from_datetime(at)
    if after is not None and str(made) <= after:
        made = ULID.from_int(int(ULID.from_str(after)) + 1)
    return str(made)


def ulid_floor(at: datetime) -> str:
    """The smallest ULID of the millisecond `at` (a stream position: everything from then)."""
    return str(ULID.from_bytes(ULID.from_datetime(at).bytes[:6] + bytes(10)))


def ulid_ceiling(at: datetime) -> str:
    """The largest ULID of the millisecond `at` (a stream end: everything until then)."""
    return str(ULID.from_bytes(ULID.from_datetime(at).bytes[:6] + b"\xff" * 10))


def is_ulid(text: str) -> bool:
    return ulid_uuid(text) is not None


def ulid_time(text: str) -> datetime:
    """The time a ULID carries (its first 48 bits, milliseconds)."""
    return ULID.from_str(text).datetime


_HEX_COMPLEMENT = str.maketrans("0123456789abcdef", "fedcba9876543210")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def newest_first(at: datetime, tiebreak: str) -> str:
    """A key that sorts newest first (by `at`, then `tiebreak` descending when it is a UUID):
    the inverted microseconds since the epoch, fixed width. Lists in newest-first order are
    store ids or queries in ascending id order over such keys."""
    micros = (at - _EPOCH) // timedelta(microseconds=1)
    return f"{10**17 - micros:017d}.{tiebreak.lower().translate(_HEX_COMPLEMENT)}"
