"""`GET /v2/events/rebalancer`: the rebalancer stream, read from the read model.

Entries (`portfolio.status_changed`, `run.created`, `run.status_changed`) are documents of the
stream collection named by ULID, so a scan in id order is the stream in time order. As Alpaca's:

- without `since` / `since_id` no history is sent, only what happens from now on;
- `since` / `until` (RFC 3339) filter on the time in the event id; `since_id` / `until_id` on the
  id itself (exclusive / inclusive); `since` and `since_id` exclude each other, as do `until`
  and `until_id`; a `Last-Event-Id` header replaces `since_id` and may not come with `since`;
- with an `until` / `until_id` the stream ends there, else it stays open.

An entry is written just after the commit that made it; one written late (its writer crashed
between the two) could carry an id older than what a follower has already read, so followers
re-read the last `LOOKBACK` and skip what they sent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from rebal_api.domain.ids import is_ulid, ulid_ceiling, ulid_floor, ulid_time
from rebal_api.service_layer.errors import BadRequest
from rebal_api.service_layer.ports import ReadModel
from rebal_runtime.clock import Clock
from rebal_runtime.store.port import JsonDict

LOOKBACK = timedelta(seconds=5)
PAGE = 500


@dataclass(frozen=True)
class Window:
    after: str
    """Entries with a greater id are sent."""
    until: str | None
    """The last id sent; None: the stream stays open."""


def _time(name: str, value: str) -> datetime:
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"{name} is not an RFC 3339 time: {value!r}") from None
    if at.tzinfo is None:
        raise BadRequest(f"{name} needs a time zone: {value!r}")
    return at


def _id(name: str, value: str) -> str:
    if not is_ulid(value):
        raise BadRequest(f"{name} is not an event id (a ULID): {value!r}")
    return value.upper()


def window(
    now: datetime,
    *,
    since: str | None = None,
    until: str | None = None,
    since_id: str | None = None,
    until_id: str | None = None,
    last_event_id: str | None = None,
) -> Window:
    if since is not None and since_id is not None:
        raise BadRequest("since and since_id exclude each other")
    if until is not None and until_id is not None:
        raise BadRequest("until and until_id exclude each other")
    if last_event_id is not None:
        if since is not None:
            raise BadRequest("Last-Event-Id cannot be combined with since")
        since_id = last_event_id
    if since_id is not None:
        after = _id("since_id", since_id)
    elif since is not None:
        after = ulid_floor(_time("since", since))
    else:
        after = ulid_floor(now)
    end = _id("until_id", until_id) if until_id is not None else None
    if until is not None:
        end = ulid_ceiling(_time("until", until))
    return Window(after, end)


class Stream:
    def __init__(self, read: ReadModel, clock: Clock, poll_seconds: float = 0.5) -> None:
        self.read = read
        self.clock = clock
        self.poll_seconds = poll_seconds

    async def _page(self, after: str) -> list[tuple[str, JsonDict]]:
        ids = await self.read.store.scan(self.read.stream, after_id=after, limit=PAGE)
        docs = await self.read.store.load_many(self.read.stream, ids)
        return [(i, docs[i].state) for i in ids if i in docs]

    async def entries(
        self, win: Window, stopped: Callable[[], Awaitable[bool]]
    ) -> AsyncIterator[tuple[str, JsonDict]]:
        """(id, body) of every entry in the window, in id order; an open-ended window is
        followed until `stopped()` says so."""
        cursor = win.after
        sent: dict[str, None] = {}
        while not await stopped():
            got = False
            floor = max(win.after, min(cursor, ulid_floor(self.clock.now() - LOOKBACK)))
            while True:
                page = await self._page(floor)
                for entry_id, body in page:
                    if entry_id in sent:
                        continue
                    if win.until is not None and entry_id > win.until:
                        return
                    sent[entry_id] = None
                    cursor, got = max(cursor, entry_id), True
                    yield entry_id, body
                if len(page) < PAGE:
                    break
                floor = page[-1][0]
            keep = ulid_floor(self.clock.now() - 2 * LOOKBACK)
            for old in [i for i in sent if i < keep]:
                del sent[old]
            if not got:
                if win.until is not None and self.clock.now() > ulid_time(win.until) + LOOKBACK:
                    return
                await self.clock.sleep(self.poll_seconds)
