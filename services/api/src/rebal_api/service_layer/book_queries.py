"""Reads of InvestSuite's portfolio: the portfolio, its optimizations (newest first, one
indexed query a page: their document ids sort newest first), its transactions (every leg of its
runs, newest run first: the runs' listing, `domain.listing`, a page at a time)."""

from __future__ import annotations

from rebal_api.domain import investsuite
from rebal_api.domain.listing import RUN, listed_run, parse
from rebal_api.domain.optimizations import OptimizationView
from rebal_api.domain.portfolio_book import PortfolioView
from rebal_api.service_layer.errors import BadRequest, NotFound
from rebal_api.service_layer.ports import ReadModel
from rebal_api.service_layer.queries import Json, Page, decode_token, encode_token, limit_of


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
        """Every leg of every run of the portfolio: newest run first, legs in order. The runs
        come from their listing (index `portfolio`), a page at a time: the run the last page
        ended in (its remaining legs), then the next ones until the page is full."""
        await self.known(portfolio_id)
        size, after = limit_of(limit), decode_token(page_token)
        cursor = after[0] if after else None
        rows = await self._legs([cursor], portfolio_id, after) if cursor is not None else []
        while len(rows) <= size:
            ids = await self.read.store.query(
                self.read.run_list, "portfolio", portfolio_id, after_id=cursor, limit=size + 1
            )
            rows += await self._legs(ids, portfolio_id, after)
            if len(ids) <= size:
                break
            cursor = ids[-1]
        page = rows[:size]
        more = len(rows) > size
        return Page([row for _, row in page], encode_token(page[-1][0]) if more else None)

    async def _legs(
        self, listing_ids: list[str], portfolio_id: str, after: tuple[str, ...] | None
    ) -> list[tuple[tuple[str, ...], Json]]:
        """The legs of these listed runs after the token's key, keyed (listing id, leg). A run
        whose listing is not this one (its `created_at` moved; a listing behind) is left out:
        it is served under its current listing id."""
        try:
            refs = [parse(i) for i in listing_ids]
        except ValueError:
            raise BadRequest("page_token is not one this api gave") from None
        runs = self.read.runs
        docs = await self.read.store.load_many(
            runs.collection, [ref for kind, ref in refs if kind == RUN]
        )
        rows: list[tuple[tuple[str, ...], Json]] = []
        for listing_id, (kind, ref) in zip(listing_ids, refs, strict=True):
            doc = docs.get(ref) if kind == RUN else None
            run = runs.mapper.from_document(doc.state) if doc is not None else None
            if run is None or run.portfolio_id != portfolio_id:
                continue
            if listed_run(run).id != listing_id:
                continue
            for row in investsuite.transactions(run):
                key = (listing_id, f"{row['leg']:05d}")
                if after is None or key > after:
                    rows.append((key, row))
        return rows
