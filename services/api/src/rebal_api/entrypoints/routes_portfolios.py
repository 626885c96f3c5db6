"""`/v1/rebalancing/portfolios` (rebal models) and `/v1/rebalancing/subscriptions`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query
from fastapi.responses import Response

from rebal_api.domain import alpaca
from rebal_api.entrypoints.http_app import JSONResponse, Services, answer, deleted, parse_uuid
from rebal_api.entrypoints.schemas import (
    ErrorOut,
    PortfolioIn,
    PortfolioOut,
    PortfolioPatch,
    SubscriptionIn,
    SubscriptionOut,
    SubscriptionsOut,
)
from rebal_api.service_layer.commands import PortfolioInput
from rebal_api.service_layer.errors import NotFound
from rebal_api.service_layer.writes import fingerprint

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)]
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut} for code in (400, 401, 404, 422)
}
PORTFOLIOS = "/v1/rebalancing/portfolios"
SUBSCRIPTIONS = "/v1/rebalancing/subscriptions"


def portfolio_input(body: PortfolioIn | PortfolioPatch) -> PortfolioInput:
    def dump(items: list[Any] | None) -> list[dict[str, Any]] | None:
        return None if items is None else [i.model_dump() for i in items]

    return PortfolioInput(
        name=body.name,
        description=body.description,
        weights=dump(body.weights),
        cooldown_days=body.cooldown_days,
        rebalance_conditions=dump(body.rebalance_conditions),
    )


def router(services: Services) -> APIRouter:
    api = APIRouter(tags=["rebalancing"], responses=ERRORS)
    commands, queries = services.commands, services.queries

    @api.post(PORTFOLIOS, response_model=PortfolioOut, summary="Create a portfolio (a model)")
    async def create_portfolio(
        body: PortfolioIn, idempotency_key: IdempotencyKey = None
    ) -> Response:
        print_ = fingerprint("POST", PORTFOLIOS, body.model_dump_json())
        return answer(
            await commands.create_portfolio(portfolio_input(body), idempotency_key, print_)
        )

    @api.get(
        PORTFOLIOS,
        response_model=list[PortfolioOut],
        summary="List portfolios (AND of the filters)",
    )
    async def list_portfolios(
        name: str | None = None,
        description: str | None = None,
        symbol: str | None = None,
        portfolio_id: str | None = None,
        status: Literal["active", "inactive", "needs_adjustment"] | None = None,
    ) -> Response:
        uuid = parse_uuid("portfolio_id", portfolio_id) if portfolio_id else None
        models = await queries.models(
            name=name, description=description, symbol=symbol, uuid=uuid, status=status
        )
        return JSONResponse([alpaca.portfolio_json(m) for m in models])

    @api.get(PORTFOLIOS + "/{portfolio_id}", response_model=PortfolioOut, summary="Get a portfolio")
    async def get_portfolio(portfolio_id: str) -> Response:
        model = await queries.model(parse_uuid("portfolio_id", portfolio_id))
        if model is None:
            raise NotFound(f"portfolio {portfolio_id} not found")
        return JSONResponse(alpaca.portfolio_json(model))

    @api.patch(
        PORTFOLIOS + "/{portfolio_id}", response_model=PortfolioOut, summary="Update a portfolio"
    )
    async def update_portfolio(
        portfolio_id: str, body: PortfolioPatch, idempotency_key: IdempotencyKey = None
    ) -> Response:
        uuid = parse_uuid("portfolio_id", portfolio_id)
        print_ = fingerprint("PATCH", f"{PORTFOLIOS}/{uuid}", body.model_dump_json())
        return answer(
            await commands.update_portfolio(uuid, portfolio_input(body), idempotency_key, print_)
        )

    @api.delete(
        PORTFOLIOS + "/{portfolio_id}",
        status_code=204,
        summary="Inactivate a portfolio (422 while it has active subscriptions)",
    )
    async def inactivate_portfolio(
        portfolio_id: str, idempotency_key: IdempotencyKey = None
    ) -> Response:
        return await deleted(
            "portfolio_id", PORTFOLIOS, portfolio_id, idempotency_key, commands.inactivate_portfolio
        )

    @api.post(
        SUBSCRIPTIONS, response_model=SubscriptionOut, summary="Subscribe an account to a portfolio"
    )
    async def create_subscription(
        body: SubscriptionIn, idempotency_key: IdempotencyKey = None
    ) -> Response:
        print_ = fingerprint("POST", SUBSCRIPTIONS, body.model_dump_json())
        account, model = str(body.account_id), str(body.portfolio_id)
        return answer(await commands.create_subscription(account, model, idempotency_key, print_))

    @api.get(SUBSCRIPTIONS, response_model=SubscriptionsOut, summary="List subscriptions")
    async def list_subscriptions(
        account_id: str | None = None,
        portfolio_id: str | None = None,
        page_token: str | None = None,
        limit: Annotated[int | None, Query(ge=1, le=500)] = None,
    ) -> Response:
        page = await queries.subscriptions(
            account_uuid=parse_uuid("account_id", account_id) if account_id else None,
            model_uuid=parse_uuid("portfolio_id", portfolio_id) if portfolio_id else None,
            page_token=page_token,
            limit=limit,
        )
        return JSONResponse({"subscriptions": page.items, "next_page_token": page.next_page_token})

    @api.get(
        SUBSCRIPTIONS + "/{subscription_id}",
        response_model=SubscriptionOut,
        summary="Get a subscription",
    )
    async def get_subscription(subscription_id: str) -> Response:
        account = await queries.subscription(parse_uuid("subscription_id", subscription_id))
        if account is None:
            raise NotFound(f"subscription {subscription_id} not found")
        return JSONResponse(alpaca.subscription_json(account))

    @api.delete(
        SUBSCRIPTIONS + "/{subscription_id}",
        status_code=204,
        summary="Unsubscribe (422 when the subscription does not exist)",
    )
    async def delete_subscription(
        subscription_id: str, idempotency_key: IdempotencyKey = None
    ) -> Response:
        return await deleted(
            "subscription_id",
            SUBSCRIPTIONS,
            subscription_id,
            idempotency_key,
            commands.delete_subscription,
        )

    return api
