"""`/ui`: the operator dashboard, server-rendered pages (Jinja2) refreshed in place by htmx.

Every path is under the api's HTTP Basic auth and out of the OpenAPI document. A request from
htmx (`HX-Request`) gets the page's live part only; the rebalancer event stream tells the page
when to ask (`static/rebal.js`). The pages' actions use the api's own endpoints (cancel a run,
the owner's choice); a manual run is `POST /ui/runs`, the api's `POST /runs` command with
`initiated_from: dashboard`.
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from pydantic import BaseModel, Field

from rebal_api.domain import dashboard as ui
from rebal_api.entrypoints.http_app import Services, answer, parse_id
from rebal_api.entrypoints.schemas import WeightIn
from rebal_api.service_layer.commands import RunInput
from rebal_api.service_layer.dashboard import RunFilter
from rebal_api.service_layer.errors import BadRequest, NotFound
from rebal_api.service_layer.writes import fingerprint

UI = "/ui"
STATIC = Path(__file__).resolve().parent.parent / "static"
TYPES = ("full_rebalance", "invest_cash", "partial_liquidation")


class DashboardRunIn(BaseModel):
    account_id: uuid.UUID
    type: Literal["full_rebalance", "invest_cash"] = "full_rebalance"
    weights: list[WeightIn] | None = Field(default=None, max_length=100)
    amount: Decimal | None = None


def templates() -> Environment:
    env = Environment(
        loader=PackageLoader("rebal_api", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(STATE_LABELS=ui.STATE_LABELS, RUN_STATUSES=ui.RUN_STATUSES, TYPES=TYPES)
    env.filters["when"] = lambda at: at.strftime("%Y-%m-%d %H:%M:%S") if at else "-"
    env.filters["num"] = lambda value: "-" if value is None else f"{value:,.2f}"
    return env


def static_files() -> dict[str, Path]:
    """What `/ui/static/` serves: the files shipped in the package, by relative path."""
    return {
        str(p.relative_to(STATIC)): p
        for p in STATIC.rglob("*")
        if p.is_file() and not p.name.startswith(".")
    }


def router(services: Services) -> APIRouter:
    api = APIRouter(include_in_schema=False)
    env, files, pages = templates(), static_files(), services.dashboard

    def render(request: Request, template: str, nav: str, **context: Any) -> HTMLResponse:
        partial = request.headers.get("hx-request") == "true"
        name = f"ui/_{template}.html" if partial else f"ui/{template}.html"
        html = env.get_template(name).render(nav=nav, request=request, **context)
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    @api.get(UI)
    async def overview(request: Request) -> Response:
        return render(request, "overview", "overview", page=await pages.overview())

    @api.get(UI + "/runs")
    async def runs(
        request: Request,
        status: str | None = None,
        type: str | None = None,
        account: Annotated[str | None, Query(max_length=128)] = None,
        day: str | None = Query(None, alias="date"),
    ) -> Response:
        try:
            on = date.fromisoformat(day) if day else None
        except ValueError:
            raise BadRequest(f"date is not YYYY-MM-DD: {str(day)[:32]!r}") from None
        wanted = RunFilter(
            status=status if status in ui.RUN_STATUSES else None,
            type=type if type in TYPES else None,
            account=account or None,
            day=on,
        )
        return render(request, "runs", "runs", page=await pages.runs(wanted))

    @api.post(UI + "/runs")
    async def start_run(body: DashboardRunIn, request: Request) -> Response:
        """A manual run (`initiated_from: dashboard`); the answer is `POST /runs`'s."""
        data = RunInput(
            account_uuid=str(body.account_id),
            type=body.type,
            amount=body.amount,
            weights=[w.model_dump() for w in body.weights] if body.weights else None,
            initiated_from="dashboard",
        )
        key = request.headers.get("idempotency-key")
        print_ = fingerprint("POST", UI + "/runs", body.model_dump_json())
        return answer(await services.commands.create_run(data, key, print_))

    @api.get(UI + "/inbox")
    async def inbox(request: Request) -> Response:
        return render(request, "inbox", "inbox", proposals=await pages.inbox())

    @api.get(UI + "/portfolios/{portfolio_id}")
    async def portfolio(request: Request, portfolio_id: str) -> Response:
        found = await pages.portfolio(parse_id("portfolio_id", portfolio_id))
        if found is None:
            raise NotFound(f"portfolio {portfolio_id} not found")
        return render(request, "portfolio", "", page=found)

    @api.get(UI + "/models")
    async def models(request: Request) -> Response:
        return render(request, "models", "models", rows=await pages.models())

    @api.get(UI + "/static/{name:path}")
    async def static(name: str) -> Response:
        path = files.get(name)
        if path is None:
            raise NotFound(f"no such file: {name[:64]}")
        return FileResponse(path, headers={"Cache-Control": "max-age=3600"})

    return api
