"""The store port: aggregate documents with a version, a pending outbox and recent processed ids.

Why single documents: the state change, the inbox entry (processed event id) and the outbox
entries of one handled event are ONE atomic write, without multi-document transactions. That works
on a single MongoDB node, in SQLite and in an in-memory fake alike (docs/design.md §4).
History that only grows goes to append-only collections, written idempotently by id.

Outbox claims (several relays on one store: two instances of a service share it): a relay takes a
time-limited lease on a document's outbox, publishes what it got, then settles (removes what was
acknowledged, quarantines what can never be published, releases its lease). Leases live beside the
aggregates, never in them: a claim writes no aggregate document and never moves a version, so it
cannot conflict with a handler's commit. A row leaves the outbox only by an acknowledged publish or
a quarantine; a lease only decides who tries first, and a crashed relay's lease simply expires.

Named leases (`acquire_lease` / `release_lease`): the same mechanism for any one-at-a-time work
of instances sharing a store (the order-router's per-run dispatch): a time-limited, renewable
lease on a name, in its own table or collection beside the aggregates and the outbox leases. At
most one owner holds a live lease on a name, atomically across processes; a crashed holder's
lease expires. A lease is advisory: it excludes only the work that asks for it.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

JsonDict = dict[str, Any]
IndexValue = str | int | None


class ConcurrencyError(Exception):
    """Someone else committed this document first (version mismatch): reload and retry."""


class StoreUnavailable(Exception):
    """The store cannot be reached right now (transient)."""


@dataclass(frozen=True)
class OutboxMessage:
    """An encoded event waiting to be published by the relay."""

    event_id: str
    topic: str
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True)
class Document:
    collection: str
    id: str
    version: int
    state: JsonDict
    processed: tuple[str, ...] = ()

    def has_processed(self, event_id: str) -> bool:
        return event_id in self.processed


@dataclass(frozen=True)
class PendingMessage:
    """An outbox row. `row` is the store's own id of the row: one event may be pending twice
    (a re-publish commits the very event again), and settling one row must leave the other."""

    collection: str
    doc_id: str
    message: OutboxMessage
    row: str = ""


@dataclass(frozen=True)
class QuarantinedMessage:
    """An outbox message that can never be published (e.g. larger than the broker accepts), moved
    out of the pending outbox so nothing behind it waits; kept with the reason for an operator."""

    collection: str
    doc_id: str
    message: OutboxMessage
    reason: str
    quarantined_at: float  # Unix time


@dataclass(frozen=True)
class Commit:
    """One atomic write. `expected_version` 0 creates the document.

    `also_processed`: more event ids the write handles, after `processed_event_id`, in order (a
    batch's several events on one document, applied in one step: one write, every id in the
    inbox)."""

    collection: str
    id: str
    expected_version: int
    state: JsonDict
    processed_event_id: str | None = None
    outbox: Sequence[OutboxMessage] = ()
    index: Mapping[str, IndexValue] = field(default_factory=dict)
    also_processed: Sequence[str] = ()

    @property
    def processed_ids(self) -> tuple[str, ...]:
        """Every event id this write records as processed, in order."""
        first = () if self.processed_event_id is None else (self.processed_event_id,)
        return (*first, *self.also_processed)


class DocumentStore(abc.ABC):
    """Every storage adapter passes the same contract suite (tests/contract)."""

    def __init__(self, processed_ids_kept: int = 1000) -> None:
        self.processed_ids_kept = processed_ids_kept
        self._commit_listeners: list[Callable[[], None]] = []

    def on_commit(self, listener: Callable[[], None]) -> None:
        """Called after every commit that added outbox messages (wakes the relay)."""
        self._commit_listeners.append(listener)

    def _notify(self) -> None:
        for listener in self._commit_listeners:
            listener()

    async def open(self) -> None:  # noqa: B027 - optional hook
        """Connect and create tables/indexes."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    @abc.abstractmethod
    async def load(self, collection: str, doc_id: str) -> Document | None: ...

    async def commit(self, commit: Commit) -> int:
        """Write state + processed id + outbox atomically; returns the new version."""
        version = await self._commit(commit)
        if commit.outbox:
            self._notify()
        return version

    @abc.abstractmethod
    async def _commit(self, commit: Commit) -> int: ...

    # -- batch operations: one round trip where the adapter can (a batch consumer's hot path) ----

    async def load_many(self, collection: str, ids: Sequence[str]) -> dict[str, Document]:
        """The documents that exist among `ids`, by id."""
        found: dict[str, Document] = {}
        for doc_id in dict.fromkeys(ids):
            doc = await self.load(collection, doc_id)
            if doc is not None:
                found[doc_id] = doc
        return found

    async def commit_many(self, commits: Sequence[Commit]) -> list[str]:
        """Each commit is atomic on its own, exactly as `commit`; the ids must be distinct.

        Returns the ids refused on a version conflict (nothing of theirs was written); the
        others are written. Why not all-or-nothing: every commit carries its own inbox entry and
        outbox, so each one is consistent alone, and MongoDB needs no transaction for that."""
        ids = [(c.collection, c.id) for c in commits]
        if len(set(ids)) != len(ids):
            raise ValueError("commit_many: one commit per document")
        conflicts = await self._commit_many(commits)
        if any(c.outbox and c.id not in conflicts for c in commits):
            self._notify()
        return conflicts

    async def _commit_many(self, commits: Sequence[Commit]) -> list[str]:
        conflicts: list[str] = []
        for commit in commits:
            try:
                await self._commit(commit)
            except ConcurrencyError:
                conflicts.append(commit.id)
        return conflicts

    async def append_many(self, collection: str, entries: Sequence[tuple[str, JsonDict]]) -> int:
        """`append` for each (id, body); returns how many were new."""
        added = 0
        for doc_id, body in entries:
            added += await self.append(collection, doc_id, body)
        return added

    @abc.abstractmethod
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
        """Ids whose index `field` equals (or is <=) `value`, ordered by id, paged by `after_id`."""

    @abc.abstractmethod
    async def scan(
        self, collection: str, *, after_id: str | None = None, limit: int = 1000
    ) -> list[str]:
        """All ids of a collection, ordered, paged."""

    @abc.abstractmethod
    async def append(self, collection: str, doc_id: str, body: JsonDict) -> bool:
        """Insert into an append-only collection; False (and no change) if the id exists."""

    @abc.abstractmethod
    async def get_appended(self, collection: str, doc_id: str) -> JsonDict | None: ...

    @abc.abstractmethod
    async def pending_outbox(self, limit: int = 500) -> list[PendingMessage]:
        """Unpublished (and not quarantined) messages, in commit order per document, claimed or
        not: a read-only view."""

    @abc.abstractmethod
    async def claim_pending(
        self, owner: str, lease_seconds: float, limit: int = 500, *, now: float | None = None
    ) -> list[PendingMessage]:
        """Claim up to `limit` pending messages for `owner` until `now + lease_seconds`.

        The unit of a claim is a document's outbox: a document is claimable when nobody holds a
        lease on it, its lease has expired (`until <= now`: a crashed relay's rows are picked up
        after the lease), or `owner` holds it (renewal, e.g. a retry after a failed publish).
        Claiming marks every document it returns messages of as leased by `owner`, atomically
        against other claimers: two owners never hold a live lease on one document, so they get
        disjoint messages. Messages come in commit order per document, so one relay at a time
        publishes a document's events, in order. A claim leaves the document (state, version,
        outbox) alone. `now` is Unix time (default: this host's clock); hosts sharing a store
        must agree on time to well within a lease."""

    @abc.abstractmethod
    async def settle(
        self,
        published: Sequence[PendingMessage] = (),
        quarantined: Sequence[tuple[PendingMessage, str]] = (),
        *,
        owner: str | None = None,
        now: float | None = None,
    ) -> None:
        """Finish (part of) a claim. `published` (acknowledged by the broker) leave the outbox;
        `quarantined` (message, reason) move from the outbox to the quarantine, readable through
        `quarantined_outbox`; then `owner`'s leases on the documents of both are released, so
        what was committed there since the claim is claimable at once. Idempotent and allowed to
        anyone: removing a message that was acknowledged is right whoever saw the ack (a second
        publish after a lease expiry is harmless, consumers dedupe on `event_id`); only the
        owner's own lease is released, never another's. Document versions are left alone."""

    async def mark_published(
        self, published: Sequence[PendingMessage], *, owner: str | None = None
    ) -> None:
        """Remove published messages from the outbox; leaves document versions alone."""
        await self.settle(published, owner=owner)

    @abc.abstractmethod
    async def quarantined_outbox(self, limit: int = 500) -> list[QuarantinedMessage]:
        """Quarantined messages, oldest first."""

    # -- named leases: one owner at a time for a piece of work, across processes --------------

    async def acquire_lease(
        self, name: str, owner: str, seconds: float, *, now: float | None = None
    ) -> bool:
        """Take or renew the lease `name` for `owner` until `now + seconds`.

        True when the lease was free, expired (`until <= now`: a crashed holder's), or already
        `owner`'s (a renewal: its end moves to `now + seconds`); False, changing nothing, while
        another owner's lease is live. Atomic against other acquirers on the same store, across
        connections and processes: two owners never both hold a live lease on one name (except
        on FerretDB, whose conditional updates are not atomic, docs/design.md §5). Independent of
        the outbox leases of `claim_pending`. `now` is Unix time (default: this host's clock);
        hosts sharing a store must agree on time to well within a lease."""
        if not name or not owner:
            raise ValueError("a lease needs a name and an owner")
        if not seconds > 0:
            raise ValueError(f"lease seconds must be > 0, not {seconds!r}")
        at = now_or_clock(now)
        return await self._acquire_lease(name, owner, at, at + seconds)

    @abc.abstractmethod
    async def _acquire_lease(self, name: str, owner: str, at: float, until: float) -> bool:
        """`acquire_lease` with the times computed: take `name` until `until` if it is free,
        expired at `at`, or `owner`'s."""

    @abc.abstractmethod
    async def release_lease(self, name: str, owner: str) -> bool:
        """End `owner`'s lease `name` at once (expired or not), so another owner may take it
        without waiting. Owner-only: True when it was `owner`'s and is gone; False, changing
        nothing, when another owner holds it (e.g. took it over after it expired) or nobody."""


def now_or_clock(now: float | None) -> float:
    """`now`, else this host's Unix time (lease timestamps are shared between processes)."""
    return time.time() if now is None else now
