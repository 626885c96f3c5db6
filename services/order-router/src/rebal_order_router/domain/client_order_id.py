"""Deterministic `client_order_id`: the key that makes "the same order never reaches the broker
twice" hold across retries and crashes (docs/design.md §4 "Broker orders"). Kafka redelivers
optimization.ready and a crash can interrupt a send whose answer never came; because every
attempt derives the same id from (run id, leg), the broker refuses a second order under it and
a lookup by it tells whether the first one arrived.

Format: ``rebal-{run_id}-{leg}`` when readable, else ``rebalh-{h<40 hex of sha256(run_id)>}-{leg}``.

- Alpaca documents a limit of 128 characters; the longest id produced here is 7 + 64 + 1 + 48 = 120.
- Alpaca keeps ids unique forever (reuse after a cancel is refused), and a run id is unique
  per optimization.ready, so ids never need to be recycled.
- Injective: a leg never contains "-", so the leg is everything after the last "-"; the
  ``rebalh-`` prefix tells a hashed run id from a readable one. Run ids that are longer than 64
  characters or use characters outside ``[A-Za-z0-9._-]`` are hashed (160 bits of SHA-256).
"""

from __future__ import annotations

import hashlib
import re

from rebal_order_router.domain.values import OrderSide

MAX_CLIENT_ORDER_ID_LENGTH = 128
MAX_READABLE_RUN_ID_LENGTH = 64
MAX_LEG_LENGTH = 48

_READABLE_RUN_ID = re.compile(r"[A-Za-z0-9._-]+")
_LEG = re.compile(r"[A-Za-z0-9._]+")
_NOT_LEG_CHAR = re.compile(r"[^A-Za-z0-9.]")
_READABLE_PREFIX = "rebal-"
_HASHED_PREFIX = "rebalh-"


def is_valid_leg(leg: str) -> bool:
    return 0 < len(leg) <= MAX_LEG_LENGTH and _LEG.fullmatch(leg) is not None


def leg_id(index: int, side: OrderSide, symbol: str) -> str:
    """A valid leg for the index-th order of an optimization, e.g. ``003.sell.BRK.B``.

    The index keeps legs unique even when two symbols sanitize alike ("BTC/USD" -> "BTC_USD");
    it is stable because a redelivered optimization.ready lists the same orders in the same order.
    """
    if index < 0:
        raise ValueError(f"leg index must be >= 0, got {index}")
    safe_symbol = _NOT_LEG_CHAR.sub("_", symbol)[:30]
    return f"{index:03d}.{side.value}.{safe_symbol}"


def client_order_id(run_id: str, leg: str) -> str:
    if not run_id:
        raise ValueError("run_id must not be empty")
    if not is_valid_leg(leg):
        raise ValueError(
            f"leg must match [A-Za-z0-9._]{{1,{MAX_LEG_LENGTH}}} (no '-'), got {leg!r}"
        )
    if len(run_id) <= MAX_READABLE_RUN_ID_LENGTH and _READABLE_RUN_ID.fullmatch(run_id):
        return f"{_READABLE_PREFIX}{run_id}-{leg}"
    digest = hashlib.sha256(run_id.encode("utf-8")).hexdigest()[:40]
    return f"{_HASHED_PREFIX}h{digest}-{leg}"


def is_rebal_client_order_id(value: str) -> bool:
    """True for ids this module produces; other orders on the account are not ours to track."""
    return value.startswith((_READABLE_PREFIX, _HASHED_PREFIX))
