"""Trade updates: the SSE stream `GET /v2/events/trades` and a JSON polling twin.

Resuming: `Last-Event-ID` (header) wins over `since_id` (query); the stream continues with the
first event after that id. Without either, only events that happen from now on are sent
(as Alpaca's event streams do). `until_id` makes the stream end after that event.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from rebal_broker_sim.bootstrap import Simulator
from rebal_broker_sim.entrypoints.http_common import broker_gate, json_response, simulator_of
from rebal_broker_sim.service_layer.errors import UnprocessableRequest
from rebal_broker_sim.service_layer.views import trade_update_view

BATCH_SIZE = 500
KEEPALIVE_SECONDS = 15.0


def _optional_int(raw: str | None, name: str) -> int | None:
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError as exc:
        raise UnprocessableRequest(f"{name} must be an integer event id") from exc
    if value < 0:
        raise UnprocessableRequest(f"{name} must be >= 0")
    return value


async def stream_trade_updates(request: Request) -> Response:
    await broker_gate(request)
    simulator = simulator_of(request)
    since_id = _optional_int(request.headers.get("last-event-id"), "Last-Event-ID")
    if since_id is None:
        since_id = _optional_int(request.query_params.get("since_id"), "since_id")
    if since_id is None:
        since_id = await simulator.queries.last_trade_update_id()
    until_id = _optional_int(request.query_params.get("until_id"), "until_id")
    account_id = request.query_params.get("account_id") or None
    return StreamingResponse(
        _sse_frames(simulator, since_id, until_id, account_id),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _sse_frames(
    simulator: Simulator, cursor: int, until_id: int | None, account_id: str | None
) -> AsyncIterator[bytes]:
    notifier = simulator.trade_updates
    yield b": connected\n\n"  # flushes the headers so a client knows the stream is live
    while True:
        # The ticket is taken before reading, so a commit after the read still wakes us.
        ticket = notifier.ticket()
        batch = await simulator.queries.trade_updates_after(
            cursor, until_id, account_id, BATCH_SIZE
        )
        if batch:
            cursor = batch[-1].event_id
            # one chunk per batch: one socket write, and a client reading behind gets the
            # batch in one read (the order-router applies what it reads together in one go)
            yield b"".join(
                b"id: %d\ndata: %s\n\n" % (update.event_id, orjson.dumps(trade_update_view(update)))
                for update in batch
            )
        if len(batch) == BATCH_SIZE:
            continue
        if until_id is not None and (
            cursor >= until_id or await simulator.queries.last_trade_update_id() >= until_id
        ):
            return  # every event up to until_id has been sent (ids commit in order)
        if notifier.closed:
            return
        if not await notifier.wait(ticket, KEEPALIVE_SECONDS):
            yield b": keepalive\n\n"


async def poll_trade_updates(request: Request) -> Response:
    """`GET /v2/events/trades/poll?since_id=&until_id=&account_id=&limit=` for reconciliation."""
    await broker_gate(request)
    simulator = simulator_of(request)
    since_id = _optional_int(request.query_params.get("since_id"), "since_id") or 0
    until_id = _optional_int(request.query_params.get("until_id"), "until_id")
    limit = _optional_int(request.query_params.get("limit"), "limit") or BATCH_SIZE
    if not 1 <= limit <= BATCH_SIZE:
        raise UnprocessableRequest(f"limit must be between 1 and {BATCH_SIZE}")
    updates = await simulator.queries.trade_updates_after(
        since_id, until_id, request.query_params.get("account_id") or None, limit
    )
    return json_response(
        {
            "events": [trade_update_view(update) for update in updates],
            "last_event_id": updates[-1].event_id if updates else since_id,
        }
    )


def event_routes() -> list[Route]:
    return [
        Route("/v2/events/trades", stream_trade_updates, methods=["GET"]),
        Route("/v2/events/trades/poll", poll_trade_updates, methods=["GET"]),
    ]
