"""The listing of runs (`GET /v1/rebalancing/runs`), one small document per run or waiting run
request, whose id sorts newest first, so a page is one indexed query in id order and one load
of the page's runs, whatever the size of the book.

Listing id: `<newest_first(created_at, alpaca id)>|<kind>|<rebal id>`, kind `r` (a run, by its
run id) or `q` (a run request, by its Alpaca id). Indexes: `type` and `type_status`
(`<type>|<status>`) while it is shown, `ref` (`<kind>|<rebal id>`) to find it again. A run's
listing is written by its repository's flush, right after the run's commit (like the stream):
from the run's document as stored then (its version in the listing, so an older flush never
overwrites a newer one). A run whose `created_at` moved (an earlier event arrived later) gets
a new listing id and its old listing is emptied (no index); a shown run hides the listing of the
request it answers. A crash between the two commits leaves the listing stale until the run's
next change; the page re-checks every run it serves against the filters.

`backfill` (on the api's start, before its consumers) rewrites the listing of every run and
request once when the listing's index values are older than this code's (`INDEX_VERSION`, kept
in the document `MARKER`, which no query finds: it has no index): a store projected before the
account and portfolio index values existed lists its old runs by them too.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import Any, Generic, TypeVar

from pydantic import TypeAdapter

from rebal_api.domain.listing import REQUEST, Listed, listed_request, listed_run
from rebal_api.domain.views import RunRequest, RunView
from rebal_runtime.store import Commit, ConcurrencyError, DocumentStore
from rebal_runtime.store.port import IndexValue

RUN_LIST = "run_list"
CACHED = 100_000
MARKER = "~index"  # after every listing id (they start with digits)
INDEX_VERSION = 2  # 2: account_type, account_type_status, portfolio
_PAGE = 500
V = TypeVar("V", RunView, RunRequest)


_EMPTY: dict[str, IndexValue] = dict.fromkeys(Listed("", "").index())


class RunListing(Generic[V]):
    """The flush of the runs (or run requests) repository that keeps their listing."""

    def __init__(self, store: DocumentStore, collection: str, kind: type[V]) -> None:
        self.store = store
        self.collection = collection
        self.adapter: TypeAdapter[V] = TypeAdapter(kind)
        self._written: dict[str, Listed] = {}

    @staticmethod
    def _listed(view: V) -> Listed:
        return listed_run(view) if isinstance(view, RunView) else listed_request(view)

    @staticmethod
    def _source_id(view: V) -> str:
        return view.run_id if isinstance(view, RunView) else view.uuid

    async def __call__(self, views: Sequence[V]) -> None:
        for view in views:
            if self._written.get(self._listed(view).ref) != self._listed(view):
                await self._write(self._source_id(view))

    async def _write(self, source_id: str, *, rewrite: bool = False) -> None:
        doc = await self.store.load(self.collection, source_id)
        if doc is None:
            return
        view = self.adapter.validate_python(doc.state)
        wanted = self._listed(view)
        for old in await self.store.query(RUN_LIST, "ref", wanted.ref, limit=20):
            if old != wanted.id:
                await self._put(old, None, _EMPTY)
        if isinstance(view, RunView) and view.shown:
            for hidden in await self.store.query(RUN_LIST, "ref", f"{REQUEST}|{view.uuid}"):
                await self._put(hidden, None, _EMPTY)
        if await self._put(wanted.id, doc.version, wanted.index(), rewrite=rewrite):
            if len(self._written) >= CACHED:
                self._written.clear()
            self._written[wanted.ref] = wanted

    async def rewrite_all(self) -> int:
        """The listing of every document of the collection written again (`backfill`)."""
        after: str | None = None
        done = 0
        while page := await self.store.scan(self.collection, after_id=after, limit=_PAGE):
            for source_id in page:
                await self._write(source_id, rewrite=True)
            done, after = done + len(page), page[-1]
        return done

    async def _put(
        self,
        listing_id: str,
        version: int | None,
        index: Mapping[str, IndexValue],
        *,
        rewrite: bool = False,
    ) -> bool:
        """Write one listing document, unless it holds a newer version of its source already
        (or the same one, unless `rewrite`: its index values may be older)."""
        for _ in range(5):
            current = await self.store.load(RUN_LIST, listing_id)
            seen = current.state.get("v") if current is not None else None
            newer = isinstance(seen, int) and version is not None and seen > version
            same = isinstance(seen, int) and seen == version and not rewrite
            if newer or same:
                return same  # written already, or by a newer flush
            state = {"v": version if version is not None else seen}
            with contextlib.suppress(ConcurrencyError):
                await self.store.commit(
                    Commit(
                        RUN_LIST,
                        listing_id,
                        current.version if current is not None else 0,
                        state,
                        index=dict(index),
                    )
                )
                return True
        return False


async def backfill(store: DocumentStore, listings: Sequence[RunListing[Any]]) -> int:
    """Rewrite every listing once if the store's are older than `INDEX_VERSION`; how many."""
    marker = await store.load(RUN_LIST, MARKER)
    if marker is not None and marker.state.get("index", 0) >= INDEX_VERSION:
        return 0
    done = 0
    for listing in listings:
        done += await listing.rewrite_all()
    with contextlib.suppress(ConcurrencyError):  # another instance got there first
        version = marker.version if marker is not None else 0
        await store.commit(Commit(RUN_LIST, MARKER, version, {"index": INDEX_VERSION}))
    return done
