"""`/v1/portfolios`: InvestSuite-style reads and writes of a rebal portfolio (rebal's ids)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from rebal_api.entrypoints.http_app import JSONResponse, Services, answer, parse_id
from rebal_api.entrypoints.routes_portfolios import ERRORS, IdempotencyKey
from rebal_api.entrypoints.schemas_investsuite import (
    DecisionIn,
    DepositIn,
    OptimizationOut,
    OptimizationsOut,
    PortfolioBookOut,
    PortfolioPatchIn,
    TransactionsOut,
    WithdrawalIn,
)
from rebal_api.service_layer.book_commands import HoldingsInput, PatchInput
from rebal_api.service_layer.writes import fingerprint

PORTFOLIOS = "/v1/portfolios"
ONE = PORTFOLIOS + "/{portfolio_id}"
Limit = Annotated[int | None, Query(ge=1, le=500)]


def patch_input(body: PortfolioPatchIn) -> PatchInput:
    settings = body.settings.model_dump(exclude_unset=True) if body.settings else {}
    if body.account_id is not None:
        settings["account_id"] = body.account_id
    holdings = None
    if body.holdings is not None:
        holdings = HoldingsInput(
            {h.symbol: h.quantity for h in body.holdings}, body.cash, body.holdings_as_of
        )
    return PatchInput(settings, holdings)


def router(services: Services) -> APIRouter:
    api = APIRouter(tags=["portfolios"], responses=ERRORS)
    commands, queries = services.book_commands, services.book_queries

    @api.get(
        ONE, response_model=PortfolioBookOut, summary="A portfolio: holdings, cash, settings, block"
    )
    async def get_portfolio(portfolio_id: str) -> Response:
        return JSONResponse(await queries.portfolio(parse_id("portfolio_id", portfolio_id)))

    @api.patch(
        ONE,
        status_code=202,
        response_model=PortfolioBookOut,
        summary="Change settings (only those given) and/or report a holdings snapshot; creates "
        "the portfolio from its settings",
    )
    async def patch_portfolio(
        portfolio_id: str, body: PortfolioPatchIn, idempotency_key: IdempotencyKey = None
    ) -> Response:
        pid = parse_id("portfolio_id", portfolio_id)
        print_ = fingerprint(
            "PATCH", f"{PORTFOLIOS}/{pid}", body.model_dump_json(exclude_unset=True)
        )
        return answer(await commands.patch(pid, patch_input(body), idempotency_key, print_))

    @api.post(
        ONE + "/deposits",
        status_code=202,
        response_model=PortfolioBookOut,
        summary="A deposit (portfolio.cash_deposited; `deposit_id` makes it once only)",
    )
    async def deposit(
        portfolio_id: str, body: DepositIn, idempotency_key: IdempotencyKey = None
    ) -> Response:
        pid = parse_id("portfolio_id", portfolio_id)
        print_ = fingerprint("POST", f"{PORTFOLIOS}/{pid}/deposits", body.model_dump_json())
        return answer(
            await commands.deposit(pid, body.amount, body.deposit_id, idempotency_key, print_)
        )

    @api.post(
        ONE + "/withdrawals",
        status_code=202,
        response_model=PortfolioBookOut,
        summary="A withdrawal request (portfolio.withdrawal_requested): an amount, or `full`",
    )
    async def withdraw(
        portfolio_id: str, body: WithdrawalIn, idempotency_key: IdempotencyKey = None
    ) -> Response:
        pid = parse_id("portfolio_id", portfolio_id)
        print_ = fingerprint("POST", f"{PORTFOLIOS}/{pid}/withdrawals", body.model_dump_json())
        return answer(await commands.withdraw(pid, body.amount, body.full, idempotency_key, print_))

    @api.get(
        ONE + "/optimizations/latest",
        response_model=OptimizationOut,
        summary="The portfolio's newest optimization with its decision record",
    )
    async def latest_optimization(portfolio_id: str) -> Response:
        pid = parse_id("portfolio_id", portfolio_id)
        return JSONResponse(await queries.latest_optimization(pid))

    @api.get(
        ONE + "/optimizations",
        response_model=OptimizationsOut,
        summary="The portfolio's optimizations, newest first",
    )
    async def list_optimizations(
        portfolio_id: str, page_token: str | None = None, limit: Limit = None
    ) -> Response:
        pid = parse_id("portfolio_id", portfolio_id)
        page = await queries.optimizations(pid, page_token, limit)
        return JSONResponse({"optimizations": page.items, "next_page_token": page.next_page_token})

    @api.post(
        ONE + "/optimizations/{optimization_id}/decision",
        status_code=202,
        response_model=OptimizationOut,
        summary="The owner's choice on an advisory optimization (optimization.decided; 422 "
        "unless it is AWAITING_OWNER)",
    )
    async def decide(
        portfolio_id: str,
        optimization_id: str,
        body: DecisionIn,
        idempotency_key: IdempotencyKey = None,
    ) -> Response:
        pid = parse_id("portfolio_id", portfolio_id)
        oid = parse_id("optimization_id", optimization_id)
        path = f"{PORTFOLIOS}/{pid}/optimizations/{oid}/decision"
        print_ = fingerprint("POST", path, body.model_dump_json())
        return answer(await commands.decide(pid, oid, body.owner_choice, idempotency_key, print_))

    @api.get(
        ONE + "/transactions",
        response_model=TransactionsOut,
        summary="Every leg of the portfolio's runs with its InvestSuite status, newest run first",
    )
    async def transactions(
        portfolio_id: str, page_token: str | None = None, limit: Limit = None
    ) -> Response:
        pid = parse_id("portfolio_id", portfolio_id)
        page = await queries.transactions(pid, page_token, limit)
        return JSONResponse({"transactions": page.items, "next_page_token": page.next_page_token})

    return api
