"""The read model's documents: each view as a store document (pydantic dumps the dataclasses to
JSON, decimals as strings and times as ISO 8601) and the index values it is found by.

Collections: `models` (by rebal model id), `accounts` (by rebal portfolio id), `runs` (by rebal
run id), `run_requests` (by Alpaca run id), `requests` (answered writes, by idempotency key),
`stream` (the rebalancer stream, by ULID: a scan in id order is the stream in time order),
`portfolios` (InvestSuite's, by rebal portfolio id), `optimizations` (newest first per
portfolio), `run_list` (the runs' listing, newest first).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from pydantic import TypeAdapter

from rebal_api.adapters.run_listing import RUN_LIST, RunListing, backfill
from rebal_api.domain.dead_letters import DeadLetterLog
from rebal_api.domain.ids import to_uuid
from rebal_api.domain.optimizations import OptimizationView
from rebal_api.domain.portfolio_book import PortfolioView
from rebal_api.domain.views import AccountView, ModelView, RequestRecord, RunRequest, RunView
from rebal_api.service_layer.ports import ReadModel
from rebal_runtime.log import get_logger
from rebal_runtime.repository import DocumentMapper, Repository
from rebal_runtime.store import Commit, ConcurrencyError, DocumentStore
from rebal_runtime.store.port import IndexValue, JsonDict

V = TypeVar("V")
log = get_logger(__name__)

MODELS = "models"
ACCOUNTS = "accounts"
RUNS = "runs"
RUN_REQUESTS = "run_requests"
REQUESTS = "requests"
STREAM = "stream"
PORTFOLIOS = "portfolios"
OPTIMIZATIONS = "optimizations"
DEAD_LETTERS = "dead_letters"


def mapper(
    kind: type[V], index: Callable[[V], Mapping[str, IndexValue]] | None = None
) -> DocumentMapper[V]:
    adapter: TypeAdapter[V] = TypeAdapter(kind)

    def to_state(view: V) -> JsonDict:
        state: JsonDict = adapter.dump_python(view, mode="json")
        return state

    def from_state(state: JsonDict) -> V:
        return adapter.validate_python(state)

    return DocumentMapper(to_state, from_state, index)


def _account_index(view: AccountView) -> Mapping[str, IndexValue]:
    subscription = view.subscription
    return {
        "account_uuid": view.account_uuid,
        "model_id": subscription.model_id if subscription else None,
        "subscription_uuid": subscription.uuid if subscription else None,
    }


def run_index(view: RunView) -> Mapping[str, IndexValue]:
    account = to_uuid("account", view.account_id)
    return {
        "uuid": view.uuid,
        "account_uuid": account,
        "open_account": None if view.is_final else account,
        "portfolio_id": view.portfolio_id,
    }


def optimization_index(view: OptimizationView) -> Mapping[str, IndexValue]:
    return {"portfolio_id": view.portfolio_id, "optimization_id": view.optimization_id}


def request_index(view: RunRequest) -> Mapping[str, IndexValue]:
    account = to_uuid("account", view.account_id)
    return {
        "account_uuid": account,
        "open_account": account if view.is_open else None,
        "optimization_id": view.optimization_id,
    }


F = TypeVar("F")


def both(
    *flushes: Callable[[Sequence[F]], Awaitable[None]],
) -> Callable[[Sequence[F]], Awaitable[None]]:
    async def flush(views: Sequence[F]) -> None:
        for one in flushes:
            await one(views)

    return flush


class StreamWriter:
    """Writes the stream entries views carry into `stream`, once each (the flush of every
    repository whose views have a `stream`)."""

    def __init__(self, store: DocumentStore) -> None:
        self.store = store

    async def __call__(self, views: Sequence[Any]) -> None:
        for view in views:
            for entry in view.stream:
                with contextlib.suppress(ConcurrencyError):  # written before: flushes repeat
                    await self.store.commit(Commit(STREAM, entry.id, 0, dict(entry.data)))


def read_model(store: DocumentStore) -> ReadModel:
    """Every repository of the read model over `store`."""
    writer = StreamWriter(store)
    runs, requests = mapper(RunView, run_index), mapper(RunRequest, request_index)
    return ReadModel(
        store=store,
        models=Repository(
            store, MODELS, mapper(ModelView, lambda v: {"uuid": v.uuid}), flush=writer
        ),
        accounts=Repository(store, ACCOUNTS, mapper(AccountView, _account_index)),
        runs=Repository(store, RUNS, runs, flush=both(writer, RunListing(store, RUNS, RunView))),
        run_requests=Repository(
            store,
            RUN_REQUESTS,
            requests,
            flush=both(writer, RunListing(store, RUN_REQUESTS, RunRequest)),
        ),
        requests=Repository(store, REQUESTS, mapper(RequestRecord)),
        portfolios=Repository(store, PORTFOLIOS, mapper(PortfolioView)),
        optimizations=Repository(
            store, OPTIMIZATIONS, mapper(OptimizationView, optimization_index)
        ),
        dead_letters=Repository(store, DEAD_LETTERS, mapper(DeadLetterLog)),
        stream=STREAM,
        run_list=RUN_LIST,
    )


def listing_backfill(store: DocumentStore) -> Callable[[], Awaitable[None]]:
    """The start hook that brings a store's run listing up to this code's index values."""

    async def run() -> None:
        rewritten = await backfill(
            store, [RunListing(store, RUNS, RunView), RunListing(store, RUN_REQUESTS, RunRequest)]
        )
        if rewritten:
            log.info("run listing rewritten for its new index values", documents=rewritten)

    return run
