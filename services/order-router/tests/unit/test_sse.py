"""The hand-written SSE parser, against the WHATWG event-stream rules."""

from __future__ import annotations

from collections.abc import AsyncIterator

from rebal_order_router.adapters.sse import SseLineSplitter, SseMessage, SseParser, iter_sse


async def chunks(*parts: str) -> AsyncIterator[str]:
    for part in parts:
        yield part


async def parse(*parts: str) -> list[SseMessage]:
    return [m async for batch in iter_sse(chunks(*parts)) for m in batch]


async def test_multi_line_data_is_joined_with_newlines() -> None:
    messages = await parse('id: 7\ndata: {"a":\ndata:  1}\n\n')
    assert messages == [SseMessage("message", '{"a":\n 1}', "7")]


async def test_comments_and_heartbeats_are_skipped() -> None:
    messages = await parse(": heartbeat\n\n", ":\n", "data: x\n\n")
    assert [m.data for m in messages] == ["x"]


async def test_event_id_persists_until_changed() -> None:
    messages = await parse("id: 1\ndata: a\n\ndata: b\n\nid: 3\nevent: trade\ndata: c\n\n")
    assert [(m.last_event_id, m.data, m.event) for m in messages] == [
        ("1", "a", "message"),
        ("1", "b", "message"),
        ("3", "c", "trade"),
    ]


async def test_line_endings_split_across_chunks() -> None:
    messages = await parse("data: a\r", "\n\r", "\ndata: b\r\r", "data: c\n", "\n")
    assert [m.data for m in messages] == ["a", "b", "c"]


async def test_incomplete_event_at_end_of_stream_is_discarded() -> None:
    messages = await parse("data: whole\n\ndata: cut off\n")
    assert [m.data for m in messages] == ["whole"]


async def test_bom_field_without_space_and_bare_field() -> None:
    messages = await parse("\ufeffdata:x\ndata\nretry: 1500\nretry: soon\n\n")
    assert messages == [SseMessage("message", "x\n", "", 1500)]


async def test_blank_line_without_data_dispatches_nothing() -> None:
    assert await parse("event: ping\n\n\n\n") == []


def test_separator_inside_json_string_is_not_a_line_end() -> None:
    splitter = SseLineSplitter()
    assert splitter.feed('data: "a\u2028b"\n') == ['data: "a\u2028b"']


def test_id_with_nul_is_ignored() -> None:
    parser = SseParser()
    parser.feed_line("id: good")
    parser.feed_line("id: bad\0")
    parser.feed_line("data: x")
    message = parser.feed_line("")
    assert message is not None
    assert message.last_event_id == "good"
