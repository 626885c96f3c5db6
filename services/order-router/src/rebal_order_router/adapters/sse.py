"""Server-Sent Events parsing by hand (WHATWG "event stream interpretation"), so the Alpaca
stream needs no extra dependency and resumes exactly: the `id:` field is remembered across
events, `data:` lines are joined with "\\n", comments (":" heartbeats) are skipped, and an event
cut off by the end of the stream is discarded rather than half-delivered.

Messages come in batches: every message completed by one chunk of the stream (one read of the
connection), so a reader that fell behind takes what piled up in one go (the order-router
applies a batch of trade updates with one store write per run).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass

# SSE lines end in CRLF, LF or CR, and nothing else: str.splitlines() would also split on
# characters like U+2028 that may legally sit inside a JSON string of a data line.
_LINE_END = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class SseMessage:
    event: str  # "message" unless the server named it
    data: str
    last_event_id: str  # the stream's last `id:` so far (it persists across events)
    retry_ms: int | None = None


class SseLineSplitter:
    """Splits decoded text chunks into lines; a CR at a chunk's end may pair with the next LF."""

    def __init__(self) -> None:
        self._tail = ""
        self._swallow_lf = False
        self._started = False

    def feed(self, chunk: str) -> list[str]:
        if not chunk:
            return []
        if not self._started:
            self._started = True
            chunk = chunk.removeprefix("\ufeff")
        if self._swallow_lf and chunk.startswith("\n"):
            chunk = chunk[1:]
        text = self._tail + chunk
        self._swallow_lf = text.endswith("\r")
        lines = _LINE_END.split(text)
        self._tail = lines.pop()
        return lines


class SseParser:
    """Feeds lines, returns a message when a blank line dispatches one."""

    def __init__(self) -> None:
        self._data: list[str] = []
        self._event = ""
        self._last_event_id = ""
        self._retry_ms: int | None = None

    def feed_line(self, line: str) -> SseMessage | None:
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            return None  # comment / heartbeat
        field, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if field == "data":
            self._data.append(value)
        elif field == "event":
            self._event = value
        elif field == "id" and "\0" not in value:
            self._last_event_id = value
        elif field == "retry" and value.isascii() and value.isdigit():
            self._retry_ms = int(value)
        return None

    def _dispatch(self) -> SseMessage | None:
        data, event = self._data, self._event
        self._data, self._event = [], ""
        if not data:
            return None
        return SseMessage(event or "message", "\n".join(data), self._last_event_id, self._retry_ms)


async def iter_sse(chunks: AsyncIterable[str]) -> AsyncIterator[list[SseMessage]]:
    """Batches of messages from a stream of decoded text chunks (the broker
    client decodes its response's reads): the messages each chunk completed, in order; never empty."""
    splitter, parser = SseLineSplitter(), SseParser()
    async for chunk in chunks:
        batch = [
            message
            for line in splitter.feed(chunk)
            if (message := parser.feed_line(line)) is not None
        ]
        if batch:
            yield batch
