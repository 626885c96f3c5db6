"""Reads of InvestSuite's portfolio: the portfolio, its optimizations (newest first, one
indexed query a page: their document ids sort newest first), its transactions (every leg of its
runs, newest run first)."""

from __future__ import annotations

from rebal_api.domain import investsuite
from rebal_api.domain.ids import newest_first
from rebal_api.domain.optimizations import OptimizationView
from rebal_api.domain.portfolio_book import PortfolioView
from rebal_api.service_layer.errors import NotFound
from rebal_api.service_layer.ports import ReadModel
from rebal_api.service_layer.queries import (
    Json,
    Page,
    decode_token,
    encode_token,
    limit_of,
    page_of,
)


class BookQueries:
    def __init__(self, read: ReadModel) -> None:
        self.read = read

    async def view(self, portfolio_id: str) -> PortfolioView | None:
        return await self.read.portfolios.load(portfolio_id)

    async def known(self, portfolio_id: str) -> PortfolioView:
        view = await self.view(portfolio_id)
        if view is None:
            raise NotFound(f"portfolio {portfolio_id} not found")
        return view

    async def portfolio_json(self, view: PortfolioView) -> Json:
        block = view.block
        blocking = await self.read.runs.load(block.optimization_id) if block else None
        return investsuite.portfolio_json(view, blocking)

    async def portfolio(self, portfolio_id: str) -> Json:
        return await self.portfolio_json(await self.known(portfolio_id))

    # -- optimizations -----------------------------------------------------------------------

    async def optimization(self, portfolio_id: str, optimization_id: str) -> OptimizationView:
        found = await self.read.optimizations.query("optimization_id", optimization_id, limit=1)
        view = await self.read.optimizations.load(found[0]) if found else None
        if view is None or view.portfolio_id != portfolio_id:
            raise NotFound(f"optimization {optimization_id} of portfolio {portfolio_id} not found")
        return view

    async def latest_optimization(self, portfolio_id: str) -> Json:
        await self.known(portfolio_id)
        newest = await self.read.optimizations.query("portfolio_id", portfolio_id, limit=1)
        view = await self.read.optimizations.load(newest[0]) if newest else None
        if view is None:
            raise NotFound(f"portfolio {portfolio_id} has no optimization yet")
        return investsuite.optimization_json(view)

    async def optimizations(
        self, portfolio_id: str, page_token: str | None, limit: int | None
    ) -> Page:
        await self.known(portfolio_id)
        size, token = limit_of(limit), decode_token(page_token)
        ids = await self.read.optimizations.query(
            "portfolio_id", portfolio_id, after_id=token[0] if token else None, limit=size + 1
        )
        docs = await self.read.store.load_many(self.read.optimizations.collection, ids[:size])
        mapper = self.read.optimizations.mapper
        items = [
            investsuite.optimization_json(mapper.from_document(docs[i].state))
            for i in ids[:size]
            if i in docs
        ]
        return Page(items, encode_token([ids[size - 1]]) if len(ids) > size else None)

    # -- transactions ------------------------------------------------------------------------

    async def transactions(
        self, portfolio_id: str, page_token: str | None, limit: int | None
    ) -> Page:
        """Every leg of every run of the portfolio: newest run first, legs in order."""
        await self.known(portfolio_id)
        runs = self.read.runs
        ids = await runs.ids("portfolio_id", portfolio_id)
        docs = await self.read.store.load_many(runs.collection, ids)
        keyed: list[tuple[tuple[str, ...], Json]] = []
        for doc in docs.values():
            run = runs.mapper.from_document(doc.state)
            if not run.type:
                continue  # known from run.settled alone so far: its legs come with its plan
            key = newest_first(run.created_at, run.run_id)
            keyed += [((key, f"{row['leg']:05d}"), row) for row in investsuite.transactions(run)]
        return page_of(keyed, page_token, limit, newest_first=False)
