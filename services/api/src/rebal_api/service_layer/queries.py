"""Reads of the read model, in Alpaca's shapes and orders (lists, filters, pages).

Page tokens are opaque to clients: the sort key of the last item served, base64url JSON. Runs
are read a page at a time from their listing (`domain.listing`: ids in sort order, one indexed
query with a limit). Models (Alpaca answers a bare array) and subscriptions are read whole and
sorted: the store port only pages in id order, and neither collection's ids sort as they are
listed (a listing collection like the runs' would do it).

Run types on `GET /runs`: rebal's withdrawal runs are Alpaca's `partial_liquidation`, a type
alpaca-py 0.44 cannot parse. They are listed only when a client asks for that type explicitly
(`type=partial_liquidation`), so no listing an SDK makes without it contains one.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from rebal_api.domain import alpaca
from rebal_api.domain.listing import REQUEST, RUN, listed_request, listed_run, parse
from rebal_api.domain.views import AccountView, ModelView, RunRequest, RunView
from rebal_api.service_layer.errors import BadRequest
from rebal_api.service_layer.ports import ReadModel
from rebal_runtime.repository import Repository

V = TypeVar("V")
Json = dict[str, Any]
_PAGE = 500
MAX_LIMIT = 500
DEFAULT_LIMIT = 100


def encode_token(key: Sequence[str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode().rstrip("=")


def decode_token(token: str | None) -> tuple[str, ...] | None:
    if not token:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise BadRequest("page_token is not one this api gave") from None
    if not isinstance(key, list) or not all(isinstance(k, str) for k in key):
        raise BadRequest("page_token is not one this api gave")
    return tuple(key)


def sort_time(at: datetime) -> str:
    """A time as a string that sorts as the time does (fixed width, UTC)."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def limit_of(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"limit must be between 1 and {MAX_LIMIT}")
    return limit


@dataclass(frozen=True)
class Page:
    items: list[Json]
    next_page_token: str | None


def page_of(
    keyed: list[tuple[tuple[str, ...], Json]],
    token: str | None,
    limit: int | None,
    *,
    newest_first: bool,
) -> Page:
    """One page of `keyed` (sort key, item), ordered by key, after the token's key."""
    size, after = limit_of(limit), decode_token(token)
    keyed.sort(key=lambda pair: pair[0], reverse=newest_first)
    if after is not None:
        keyed = [p for p in keyed if (p[0] < after if newest_first else p[0] > after)]
    page = keyed[:size]
    more = len(keyed) > size
    return Page([item for _, item in page], encode_token(page[-1][0]) if more else None)


class Queries:
    def __init__(self, read: ReadModel) -> None:
        self.read = read

    async def _load_all(self, repo: Repository[V], ids: Sequence[str]) -> list[V]:
        docs = await self.read.store.load_many(repo.collection, ids)
        return [repo.mapper.from_document(docs[i].state) for i in ids if i in docs]

    async def _every_id(self, repo: Repository[Any]) -> list[str]:
        found: list[str] = []
        while True:
            page = await self.read.store.scan(
                repo.collection, after_id=found[-1] if found else None, limit=_PAGE
            )
            found.extend(page)
            if len(page) < _PAGE:
                return found

    async def _by(self, repo: Repository[V], index: str, value: str) -> V | None:
        ids = await repo.query(index, value, limit=1)
        return await repo.load(ids[0]) if ids else None

    # -- models ---------------------------------------------------------------------------

    async def model(self, uuid: str) -> ModelView | None:
        return await self._by(self.read.models, "uuid", uuid)

    async def models(
        self,
        *,
        name: str | None = None,
        description: str | None = None,
        symbol: str | None = None,
        uuid: str | None = None,
        status: str | None = None,
    ) -> list[ModelView]:
        """Every model matching all the filters given (Alpaca combines them with AND)."""
        if uuid is not None:
            found = await self.model(uuid)
            candidates = [found] if found is not None else []
        else:
            candidates = await self._load_all(
                self.read.models, await self._every_id(self.read.models)
            )
        return sorted(
            (
                m
                for m in candidates
                if (name is None or m.name == name)
                and (description is None or m.description == description)
                and (symbol is None or any(w.symbol == symbol for w in m.weights))
                and (status is None or m.status == status)
            ),
            key=lambda m: (m.created_at, m.uuid),
        )

    # -- accounts and subscriptions ----------------------------------------------------------

    async def account(self, account_uuid: str) -> AccountView | None:
        return await self._by(self.read.accounts, "account_uuid", account_uuid)

    async def subscription(self, uuid: str) -> AccountView | None:
        return await self._by(self.read.accounts, "subscription_uuid", uuid)

    async def subscribers(self, model_id: str) -> int:
        return len(await self.read.accounts.query("model_id", model_id, limit=1))

    async def subscriptions(
        self,
        *,
        account_uuid: str | None,
        model_uuid: str | None,
        page_token: str | None,
        limit: int | None,
    ) -> Page:
        accounts = self.read.accounts
        if account_uuid is not None:
            ids = await accounts.ids("account_uuid", account_uuid)
        elif model_uuid is not None:
            model = await self.model(model_uuid)
            ids = await accounts.ids("model_id", model.model_id) if model is not None else []
        else:
            ids = await self._every_id(accounts)
        keyed: list[tuple[tuple[str, ...], Json]] = [
            (
                (sort_time(a.subscription.created_at), a.subscription.uuid),
                alpaca.subscription_json(a),
            )
            for a in await self._load_all(accounts, ids)
            if a.subscription is not None
            and (model_uuid is None or alpaca.model_uuid(a.subscription.model_id) == model_uuid)
        ]
        return page_of(keyed, page_token, limit, newest_first=False)

    # -- runs -----------------------------------------------------------------------------

    async def open_runs(self, account_uuid: str) -> int:
        runs = await self.read.runs.query("open_account", account_uuid, limit=1)
        requests = await self.read.run_requests.query("open_account", account_uuid, limit=1)
        return len(runs) + len(requests)

    async def run(self, uuid: str) -> RunView | RunRequest | None:
        """A run by its Alpaca id: rebal's run once shown, else the request the api accepted."""
        run = await self._by(self.read.runs, "uuid", uuid)
        if run is not None and run.shown:
            return run
        request = await self.read.run_requests.load(uuid)
        return request if request is not None and request.run_id is None else None

    async def runs(
        self,
        *,
        account_uuid: str | None,
        type: str | None,
        status: str | None,
        page_token: str | None,
        limit: int | None,
    ) -> Page:
        """Newest first. `partial_liquidation` runs only when `type` asks for them. A page is one
        query of the listing per type (`domain.listing`), within the account when one is given."""
        size, token = limit_of(limit), decode_token(page_token)
        after = token[0] if token else None
        types = [type] if type is not None else sorted(alpaca.SDK_RUN_TYPES)
        field = "type" if status is None else "type_status"
        scope = ""
        if account_uuid is not None:
            field, scope = f"account_{field}", f"{account_uuid}|"
        ids: list[str] = []
        for one in types:
            value = scope + (one if status is None else f"{one}|{status}")
            ids += await self.read.store.query(
                self.read.run_list, field, value, after_id=after, limit=size + 1
            )
        ids = sorted(ids)[: size + 1]
        items = await self._listed(ids[:size], types, status)
        more = len(ids) > size
        return Page(items, encode_token([ids[size - 1]]) if more else None)

    async def _listed(self, ids: list[str], types: list[str], status: str | None) -> list[Json]:
        """The page's runs as they are now: one that no longer matches (its listing was behind)
        is left out."""
        refs = [parse(i) for i in ids]
        store = self.read.store
        runs = await store.load_many(self.read.runs.collection, [r for k, r in refs if k == RUN])
        requests = await store.load_many(
            self.read.run_requests.collection, [r for k, r in refs if k == REQUEST]
        )
        items: list[Json] = []
        for kind, ref in refs:
            if kind == RUN and ref in runs:
                run = self.read.runs.mapper.from_document(runs[ref].state)
                listed, body = listed_run(run), (alpaca.run_json(run) if run.shown else None)
            elif kind == REQUEST and ref in requests:
                request = self.read.run_requests.mapper.from_document(requests[ref].state)
                listed, body = listed_request(request), alpaca.request_json(request)
            else:
                continue
            if listed.type in types and (status is None or listed.status == status) and body:
                items.append(body)
        return items
