"""`GET /v2/events/rebalancer`: Alpaca's rebalancer event stream (server-sent events)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import orjson
from fastapi import APIRouter, Header, Request
from fastapi.responses import StreamingResponse

from rebal_api.entrypoints.http_app import Services
from rebal_api.entrypoints.routes_portfolios import ERRORS
from rebal_api.service_layer.stream import window

EVENTS = "/v2/events/rebalancer"


def frame(entry_id: str, body: dict[str, object]) -> bytes:
    """One server-sent event: its ULID as `id`, its type as `event`, the JSON as `data`."""
    data = orjson.dumps(body).decode()
    return f"id: {entry_id}\nevent: {body.get('event_type')}\ndata: {data}\n\n".encode()


def router(services: Services) -> APIRouter:
    api = APIRouter(tags=["events"], responses=ERRORS)

    @api.get(
        EVENTS,
        response_class=StreamingResponse,
        summary="Rebalancer events: portfolio.status_changed, run.created, run.status_changed",
        description="Server-sent events with ULID ids. Without `since`/`since_id` only new "
        "events; `since`/`until` filter on the time in the id, `since_id`/`until_id` on the id "
        "(exclusive/inclusive); a `Last-Event-Id` header replaces `since_id`. With an "
        "`until`/`until_id` the stream ends there.",
    )
    async def rebalancer_events(
        request: Request,
        since: str | None = None,
        until: str | None = None,
        since_id: str | None = None,
        until_id: str | None = None,
        last_event_id: Annotated[str | None, Header(alias="Last-Event-Id")] = None,
    ) -> StreamingResponse:
        win = window(
            services.clock.now(),
            since=since,
            until=until,
            since_id=since_id,
            until_id=until_id,
            last_event_id=last_event_id,
        )

        async def body() -> AsyncIterator[bytes]:
            yield b": rebal rebalancer events\n\n"  # the headers go out at once
            async for entry_id, data in services.stream.entries(win, request.is_disconnected):
                yield frame(entry_id, data)

        return StreamingResponse(
            body(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
        )

    return api
