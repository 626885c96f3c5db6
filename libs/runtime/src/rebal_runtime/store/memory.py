"""An in-memory DocumentStore: the hand-written fake for unit tests (passes the contract suite)."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Sequence
from typing import Literal

from rebal_runtime.store.port import (
    Commit,
    ConcurrencyError,
    Document,
    DocumentStore,
    IndexValue,
    JsonDict,
    OutboxMessage,
    PendingMessage,
    QuarantinedMessage,
    now_or_clock,
)

_DocKey = tuple[str, str]


class InMemoryStore(DocumentStore):
    def __init__(self, processed_ids_kept: int = 1000) -> None:
        super().__init__(processed_ids_kept)
        self._docs: dict[tuple[str, str], Document] = {}
        self._index: dict[tuple[str, str], dict[str, IndexValue]] = {}
        self._appended: dict[tuple[str, str], JsonDict] = {}
        self._outbox: list[PendingMessage] = []
        self._rows = itertools.count(1)
        self._leases: dict[_DocKey, tuple[str, float]] = {}  # document -> (owner, until)
        self._quarantine: list[QuarantinedMessage] = []
        self._named_leases: dict[str, tuple[str, float]] = {}  # name -> (owner, until)
        self.commits = 0

    async def load(self, collection: str, doc_id: str) -> Document | None:
        doc = self._docs.get((collection, doc_id))
        return copy.deepcopy(doc) if doc else None

    async def _commit(self, commit: Commit) -> int:
        key = (commit.collection, commit.id)
        current = self._docs.get(key)
        current_version = current.version if current else 0
        if current_version != commit.expected_version:
            raise ConcurrencyError(
                f"{key}: expected v{commit.expected_version}, found v{current_version}"
            )
        processed = current.processed if current else ()
        if commit.processed_ids:
            processed = (*processed, *commit.processed_ids)[-self.processed_ids_kept :]
        version = current_version + 1
        self._docs[key] = Document(
            commit.collection, commit.id, version, copy.deepcopy(commit.state), processed
        )
        self._index[key] = {**self._index.get(key, {}), **commit.index}
        self._outbox.extend(
            PendingMessage(commit.collection, commit.id, m, str(next(self._rows)))
            for m in commit.outbox
        )
        self.commits += 1
        return version

    async def query(
        self,
        collection: str,
        field: str,
        value: IndexValue,
        *,
        op: Literal["eq", "le"] = "eq",
        after_id: str | None = None,
        limit: int = 1000,
    ) -> list[str]:
        def matches(v: IndexValue) -> bool:
            if op == "eq":
                return v == value
            return v is not None and value is not None and str(v) <= str(value)

        ids = sorted(
            doc_id
            for (coll, doc_id), fields in self._index.items()
            if coll == collection and field in fields and matches(fields[field])
        )
        return [i for i in ids if after_id is None or i > after_id][:limit]

    async def scan(
        self, collection: str, *, after_id: str | None = None, limit: int = 1000
    ) -> list[str]:
        ids = sorted(doc_id for (coll, doc_id) in self._docs if coll == collection)
        return [i for i in ids if after_id is None or i > after_id][:limit]

    async def append(self, collection: str, doc_id: str, body: JsonDict) -> bool:
        if (collection, doc_id) in self._appended:
            return False
        self._appended[(collection, doc_id)] = copy.deepcopy(body)
        return True

    async def get_appended(self, collection: str, doc_id: str) -> JsonDict | None:
        body = self._appended.get((collection, doc_id))
        return copy.deepcopy(body) if body is not None else None

    async def pending_outbox(self, limit: int = 500) -> list[PendingMessage]:
        return self._outbox[:limit]

    async def claim_pending(
        self, owner: str, lease_seconds: float, limit: int = 500, *, now: float | None = None
    ) -> list[PendingMessage]:
        at = now_or_clock(now)
        claimed: list[PendingMessage] = []
        for p in self._outbox:
            if len(claimed) >= limit:
                break
            lease = self._leases.get((p.collection, p.doc_id))
            if lease is None or lease[1] <= at or lease[0] == owner:
                claimed.append(p)
        for p in claimed:
            self._leases[(p.collection, p.doc_id)] = (owner, at + lease_seconds)
        return claimed

    async def settle(
        self,
        published: Sequence[PendingMessage] = (),
        quarantined: Sequence[tuple[PendingMessage, str]] = (),
        *,
        owner: str | None = None,
        now: float | None = None,
    ) -> None:
        at = now_or_clock(now)
        reasons = {p.row: r for p, r in quarantined}
        done = {p.row for p in published} | set(reasons)
        docs = {(p.collection, p.doc_id) for p in [*published, *(q for q, _ in quarantined)]}
        kept: list[PendingMessage] = []
        for p in self._outbox:
            key = p.row
            if key in reasons:
                self._quarantine.append(
                    QuarantinedMessage(p.collection, p.doc_id, p.message, reasons[key], at)
                )
            elif key not in done:
                kept.append(p)
        self._outbox = kept
        if owner is not None:
            for collection, doc_id in docs:
                if self._leases.get((collection, doc_id), ("", 0.0))[0] == owner:
                    del self._leases[(collection, doc_id)]

    async def quarantined_outbox(self, limit: int = 500) -> list[QuarantinedMessage]:
        return self._quarantine[:limit]

    async def _acquire_lease(self, name: str, owner: str, at: float, until: float) -> bool:
        held = self._named_leases.get(name)
        if held is not None and held[0] != owner and held[1] > at:
            return False
        self._named_leases[name] = (owner, until)
        return True

    async def release_lease(self, name: str, owner: str) -> bool:
        held = self._named_leases.get(name)
        if held is None or held[0] != owner:
            return False
        del self._named_leases[name]
        return True

    def outbox_messages(self) -> list[OutboxMessage]:
        return [p.message for p in self._outbox]
