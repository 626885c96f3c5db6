"""`/v1/rebalancing/runs`: rebal runs (run id = optimization id; Alpaca id = a UUID)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from rebal_api.domain import alpaca
from rebal_api.domain.views import RunRequest
from rebal_api.entrypoints.http_app import JSONResponse, Services, answer, deleted, parse_uuid
from rebal_api.entrypoints.routes_portfolios import ERRORS, IdempotencyKey
from rebal_api.entrypoints.schemas import RunIn, RunOut, RunsOut
from rebal_api.service_layer.commands import RunInput
from rebal_api.service_layer.errors import NotFound
from rebal_api.service_layer.writes import fingerprint

RUNS = "/v1/rebalancing/runs"
RunStatus = Literal[
    "QUEUED",
    "IN_PROGRESS",
    "CANCELED",
    "CANCELED_MID_RUN",
    "ERROR",
    "TIMEOUT",
    "COMPLETED_ADJUSTED",
    "COMPLETED_SUCCESS",
]


def router(services: Services) -> APIRouter:
    api = APIRouter(tags=["rebalancing"], responses=ERRORS)
    commands, queries = services.commands, services.queries

    @api.post(
        RUNS,
        response_model=RunOut,
        summary="Create a manual run (422 for own weights while subscribed, or while the "
        "account has a run that is not final)",
    )
    async def create_run(body: RunIn, idempotency_key: IdempotencyKey = None) -> Response:
        print_ = fingerprint("POST", RUNS, body.model_dump_json())
        data = RunInput(
            account_uuid=str(body.account_id),
            type=body.type,
            amount=body.amount,
            weights=[w.model_dump() for w in body.weights] if body.weights else None,
        )
        return answer(await commands.create_run(data, idempotency_key, print_))

    @api.get(
        RUNS,
        response_model=RunsOut,
        summary="List runs, newest first (partial_liquidation only when asked for by type)",
    )
    async def list_runs(
        account_id: str | None = None,
        type: Literal["full_rebalance", "invest_cash", "partial_liquidation"] | None = None,
        status: RunStatus | None = None,
        page_token: str | None = None,
        limit: Annotated[int | None, Query(ge=1, le=500)] = None,
    ) -> Response:
        page = await queries.runs(
            account_uuid=parse_uuid("account_id", account_id) if account_id else None,
            type=type,
            status=status,
            page_token=page_token,
            limit=limit,
        )
        return JSONResponse({"runs": page.items, "next_page_token": page.next_page_token})

    @api.get(RUNS + "/{run_id}", response_model=RunOut, summary="Get a run with its orders")
    async def get_run(run_id: str) -> Response:
        run = await queries.run(parse_uuid("run_id", run_id))
        if run is None:
            raise NotFound(f"run {run_id} not found")
        body = alpaca.request_json(run) if isinstance(run, RunRequest) else alpaca.run_json(run)
        return JSONResponse(body)

    @api.delete(
        RUNS + "/{run_id}",
        status_code=204,
        summary="Cancel a run (publishes run.cancel_requested; 422 when it is final)",
    )
    async def cancel_run(run_id: str, idempotency_key: IdempotencyKey = None) -> Response:
        return await deleted("run_id", RUNS, run_id, idempotency_key, commands.cancel_run)

    return api
