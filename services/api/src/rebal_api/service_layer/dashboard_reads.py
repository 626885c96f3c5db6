"""The read model as the dashboard reads it: every document of a collection, every portfolio
with its newest optimization and model, every run (and every run request rebal has not made
yet) as a row of the runs table."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TypeVar

from rebal_api.domain.dashboard import CANCELABLE, portfolio_state
from rebal_api.domain.ids import to_uuid
from rebal_api.domain.optimizations import OptimizationView
from rebal_api.domain.portfolio_book import PortfolioView
from rebal_api.domain.views import ModelView, RunRequest, RunView
from rebal_api.service_layer.ports import ReadModel
from rebal_runtime.repository import Repository

V = TypeVar("V")
PAGE = 500


@dataclass(frozen=True)
class PortfolioRow:
    portfolio_id: str
    account_id: str | None
    state: str
    mandate: str
    cash: Decimal
    model: ModelView | None
    blocking_run: str | None
    latest: OptimizationView | None
    view: PortfolioView


@dataclass(frozen=True)
class RunRow:
    """A run, or a request the api accepted that rebal has not made a run of yet (`request`)."""

    run_id: str | None
    uuid: str | None
    portfolio_id: str
    account_uuid: str
    type: str
    status: str
    initiated_from: str
    created_at: datetime
    updated_at: datetime
    reason: str | None
    orders: int
    request: bool

    @property
    def cancelable(self) -> bool:
        """DELETE /v1/rebalancing/runs/{uuid} takes it (a run rebal has made, not final)."""
        return not self.request and self.uuid is not None and self.status in CANCELABLE


def run_row(run: RunView) -> RunRow:
    return RunRow(
        run_id=run.run_id,
        uuid=run.uuid,
        portfolio_id=run.portfolio_id,
        account_uuid=to_uuid("account", run.account_id),
        type=run.type,
        status=run.status,
        initiated_from=run.initiated_from,
        created_at=run.created_at,
        updated_at=run.updated_at,
        reason=run.reason,
        orders=len(run.orders) + len(run.failed_orders) or len(run.planned),
        request=False,
    )


def request_row(request: RunRequest) -> RunRow:
    return RunRow(
        run_id=None,
        uuid=request.uuid,
        portfolio_id=request.portfolio_id,
        account_uuid=to_uuid("account", request.account_id),
        type=request.type,
        status=request.status,
        initiated_from=request.initiated_from,
        created_at=request.created_at,
        updated_at=request.updated_at,
        reason=request.reason,
        orders=0,
        request=True,
    )


class DashboardReads:
    def __init__(self, read: ReadModel) -> None:
        self.read = read

    async def every(self, repo: Repository[V]) -> list[V]:
        """Every document of the collection, in id order, a page at a time."""
        found: list[V] = []
        after: str | None = None
        while True:
            ids = await self.read.store.scan(repo.collection, after_id=after, limit=PAGE)
            docs = await self.read.store.load_many(repo.collection, ids)
            found += [repo.mapper.from_document(docs[i].state) for i in ids if i in docs]
            if len(ids) < PAGE:
                return found
            after = ids[-1]

    async def latest_optimization(self, portfolio_id: str) -> OptimizationView | None:
        newest = await self.read.optimizations.query("portfolio_id", portfolio_id, limit=1)
        return await self.read.optimizations.load(newest[0]) if newest else None

    async def models_by_id(self) -> dict[str, ModelView]:
        return {m.model_id: m for m in await self.every(self.read.models)}

    async def portfolio_rows(self) -> list[PortfolioRow]:
        """Every portfolio with its state, by portfolio id."""
        models = await self.models_by_id()
        rows = []
        for view in await self.every(self.read.portfolios):
            latest = await self.latest_optimization(view.portfolio_id)
            model = models.get(view.settings.model_id) if view.settings.model_id else None
            rows.append(self.row(view, latest, model))
        return rows

    @staticmethod
    def row(
        view: PortfolioView, latest: OptimizationView | None, model: ModelView | None
    ) -> PortfolioRow:
        return PortfolioRow(
            portfolio_id=view.portfolio_id,
            account_id=view.account_id,
            state=portfolio_state(view, latest, model),
            mandate=view.settings.mandate,
            cash=view.cash,
            model=model,
            blocking_run=view.block.optimization_id if view.block else None,
            latest=latest,
            view=view,
        )

    async def run_rows(self) -> list[RunRow]:
        """Every run shown by the api and every open request, newest first."""
        rows = [run_row(r) for r in await self.every(self.read.runs) if r.shown]
        rows += [request_row(r) for r in await self.every(self.read.run_requests) if r.is_open]
        return newest_first(rows)

    async def portfolio_runs(self, portfolio_id: str, limit: int) -> list[RunView]:
        ids = await self.read.runs.ids("portfolio_id", portfolio_id)
        docs = await self.read.store.load_many(self.read.runs.collection, ids)
        runs = [self.read.runs.mapper.from_document(d.state) for d in docs.values()]
        return sorted(runs, key=lambda r: (r.created_at, r.run_id), reverse=True)[:limit]


def newest_first(rows: Iterable[RunRow]) -> list[RunRow]:
    return sorted(rows, key=lambda r: (r.created_at, r.run_id or r.uuid or ""), reverse=True)
