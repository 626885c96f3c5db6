"""A typed aggregate store over the `DocumentStore` port: one aggregate per document.

A `Repository[A]` knows its collection and a `Mapper[A]` (aggregate <-> document state, plus the
index values the aggregate is found by), so a service layer works with aggregates and never with
documents. Its writes keep `apply_once`'s exactly-once semantics (docs/design.md §4): the new
state, the processed event id and the events to publish are one atomic commit; an event whose id
the document has already processed is skipped; a step that changes nothing still records the
event id on an existing document, so a redelivery is recognised cheaply.

`update_many` is the batch form (a batch subscriber's list of events): one store read for the
documents of a round and one write for its commits, giving exactly what `update` for each item
in order gives. An item on a document already touched in the batch starts a new round, so every
step sees the previous one committed; with `together=True` it is applied in the same round
instead, on the aggregate the item before left, and the document's items commit as ONE write
(every event id in its inbox, their events in order): a batch is one read and one write however
many of its items share a document. A commit refused on a version conflict (another writer got
there first) is redone alone through `update`, item by item.

A repository may be given a `flush`: writes an aggregate carries for a place its commit cannot
reach (records for an append-only log, kept in the document until known written). It is called
with the aggregates loaded before a commit replaces them (in `update` before the step, in
`update_many` once per round before its commit) and with the aggregates committed, right after
their commit (once per round), so a crash between a commit and its flush delays those writes to
the next commit of the document and never loses them. Flushes are repeated: make them
idempotent.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, Literal, Protocol, TypeVar

from rebal_runtime.store.port import Commit, Document, DocumentStore, IndexValue, JsonDict
from rebal_runtime.uow import Change, apply_once, to_outbox
from rebal_schemas import Event

A = TypeVar("A")
_PAGE = 500


class Mapper(Protocol[A]):
    """How an aggregate is stored: its document state and, optionally, its index values."""

    def to_document(self, aggregate: A) -> JsonDict: ...

    def from_document(self, state: JsonDict) -> A: ...

    def index(self, aggregate: A) -> Mapping[str, IndexValue]: ...


@dataclass(frozen=True)
class DocumentMapper(Generic[A]):
    """A `Mapper` from plain functions; without `index_of` the aggregate has no index values."""

    to_state: Callable[[A], JsonDict]
    from_state: Callable[[JsonDict], A]
    index_of: Callable[[A], Mapping[str, IndexValue]] | None = None

    def to_document(self, aggregate: A) -> JsonDict:
        return self.to_state(aggregate)

    def from_document(self, state: JsonDict) -> A:
        return self.from_state(state)

    def index(self, aggregate: A) -> Mapping[str, IndexValue]:
        return {} if self.index_of is None else self.index_of(aggregate)


@dataclass(frozen=True)
class Outcome(Generic[A]):
    """What a step wants committed: the new aggregate and the events to publish (same write).

    `index` is merged over the mapper's index values: for index values that depend on more
    than the aggregate (e.g. a date computed with the deployment's calendar)."""

    aggregate: A
    publish: Sequence[Event] = ()
    index: Mapping[str, IndexValue] = field(default_factory=dict)


@dataclass(frozen=True)
class Committed(Generic[A]):
    """What was committed: the aggregate as stored and the events put in the outbox."""

    aggregate: A
    publish: tuple[Event, ...] = ()


Step = Callable[[A | None], Outcome[A] | Awaitable[Outcome[A] | None] | None]
"""A step on the current aggregate (None when the document does not exist): its outcome, or
None for "no change". Plain or async."""

Flush = Callable[[Sequence[A]], Awaitable[None]]
"""Writes the given aggregates carry outside their documents, done idempotently."""


@dataclass(frozen=True)
class Work(Generic[A]):
    """One item of a batch: run `step` on document `id` because of event `event_id`."""

    id: str
    event_id: str | None
    step: Step[A]


async def _run(step: Step[A], current: A | None) -> Outcome[A] | None:
    result = step(current)
    if inspect.isawaitable(result):
        return await result
    return result


class Repository(Generic[A]):
    def __init__(
        self,
        store: DocumentStore,
        collection: str,
        mapper: Mapper[A],
        *,
        flush: Flush[A] | None = None,
    ) -> None:
        self.store = store
        self.collection = collection
        self.mapper = mapper
        self.flush = flush

    def _from(self, doc: Document | None) -> A | None:
        return None if doc is None else self.mapper.from_document(doc.state)

    def _index(self, outcome: Outcome[A]) -> dict[str, IndexValue]:
        return {**self.mapper.index(outcome.aggregate), **outcome.index}

    async def load(self, doc_id: str) -> A | None:
        return self._from(await self.store.load(self.collection, doc_id))

    async def update(self, doc_id: str, event_id: str | None, step: Step[A]) -> Committed[A] | None:
        """Run `step` on the aggregate and commit; None when nothing was committed (the event
        was applied before, or the step changed nothing)."""
        return (await self._update(doc_id, event_id, step))[1]

    async def apply(self, doc_id: str, event_id: str | None, step: Step[A]) -> bool:
        """`update`, answering what `apply_once` answers: False when the event was applied
        before, True when it is applied now (changed something or not)."""
        return (await self._update(doc_id, event_id, step))[0]

    async def _flush(self, aggregates: Sequence[A]) -> None:
        if self.flush is not None:
            await self.flush(aggregates)

    async def _update(
        self, doc_id: str, event_id: str | None, step: Step[A]
    ) -> tuple[bool, Committed[A] | None]:
        committed: list[Committed[A]] = []

        async def mutate(doc: Document | None) -> Change | None:
            committed.clear()  # a version conflict re-runs the step on fresh state
            current = self._from(doc)
            if current is not None:
                await self._flush([current])
            outcome = await _run(step, current)
            if outcome is None:
                return None
            committed.append(Committed(outcome.aggregate, tuple(outcome.publish)))
            state = self.mapper.to_document(outcome.aggregate)
            return Change(state, publish=outcome.publish, index=self._index(outcome))

        applied = await apply_once(self.store, self.collection, doc_id, event_id, mutate)
        if not applied or not committed:
            return applied, None
        await self._flush([committed[0].aggregate])
        return applied, committed[0]

    async def update_many(
        self, works: Sequence[Work[A]], *, together: bool = False
    ) -> list[Committed[A] | None]:
        """`update` for each item, in order, batched; the result of each item, by position.
        `together`: the items on one document are one step and one commit (see the module)."""
        results: list[Committed[A] | None] = [None] * len(works)
        if together:
            await self._round(works, range(len(works)), results)
            return results
        start = 0
        while start < len(works):
            touched: set[str] = set()
            end = start
            while end < len(works) and works[end].id not in touched:
                touched.add(works[end].id)
                end += 1
            await self._round(works, range(start, end), results)
            start = end
        return results

    async def _round(
        self, works: Sequence[Work[A]], positions: range, results: list[Committed[A] | None]
    ) -> None:
        """The items at `positions`: one load, the steps (an item on a document an earlier item
        of the round changed runs on what that one left), one commit per document in one
        `commit_many` (and, with a `flush`, one flush of what was loaded before it and one of
        what it committed)."""
        docs = await self.store.load_many(self.collection, [works[p].id for p in positions])
        chains: dict[str, _Chain[A]] = {}
        staged: dict[int, Committed[A]] = {}
        for position in positions:
            work = works[position]
            chain = chains.get(work.id)
            if chain is None:
                chain = chains[work.id] = _Chain(self.mapper, docs.get(work.id))
            if work.event_id is not None and chain.has_processed(work.event_id):
                continue  # a redelivery (or a repeat within the batch): the inbox drops it
            outcome = await _run(work.step, chain.current)
            if outcome is None:
                if chain.current is not None and work.event_id is not None:
                    chain.processed.append(work.event_id)  # remember it was seen
                continue
            chain.add(outcome, self._index(outcome), work.event_id)
            staged[position] = Committed(outcome.aggregate, tuple(outcome.publish))
        await self._flush([c.loaded for c in chains.values() if c.loaded is not None])
        commits = [c for i, chain in chains.items() if (c := chain.commit(self.collection, i))]
        conflicts = set(await self.store.commit_many(commits)) if commits else set()
        committed = [c.current for i, c in chains.items() if c.changed and i not in conflicts]
        await self._flush([a for a in committed if a is not None])
        for position in positions:
            work = works[position]
            if work.id in conflicts:
                results[position] = await self.update(work.id, work.event_id, work.step)
            elif position in staged:
                results[position] = staged[position]

    async def query(
        self,
        index: str,
        value: IndexValue,
        *,
        op: Literal["eq", "le"] = "eq",
        after_id: str | None = None,
        limit: int = 1000,
    ) -> list[str]:
        """One page of the ids whose index value equals (or is <=) `value`, ordered by id."""
        return await self.store.query(
            self.collection, index, value, op=op, after_id=after_id, limit=limit
        )

    async def ids(
        self, index: str, value: IndexValue, *, op: Literal["eq", "le"] = "eq"
    ) -> list[str]:
        """Every id whose index value equals (or is <=) `value`, read page by page."""
        found: list[str] = []
        after: str | None = None
        while True:
            page = await self.query(index, value, op=op, after_id=after, limit=_PAGE)
            found.extend(page)
            if len(page) < _PAGE:
                return found
            after = page[-1]


class _Chain(Generic[A]):
    """What a round does to one document: the aggregate as its items leave it, the event ids
    they handle and the events they publish, in order, for one commit."""

    def __init__(self, mapper: Mapper[A], doc: Document | None) -> None:
        self.mapper = mapper
        self.doc = doc
        self.loaded = None if doc is None else mapper.from_document(doc.state)
        self.current = self.loaded
        self.changed = False
        self.processed: list[str] = []
        self.publish: list[Event] = []
        self.index: dict[str, IndexValue] = {}

    def has_processed(self, event_id: str) -> bool:
        return event_id in self.processed or (
            self.doc is not None and self.doc.has_processed(event_id)
        )

    def add(
        self, outcome: Outcome[A], index: Mapping[str, IndexValue], event_id: str | None
    ) -> None:
        self.current, self.changed = outcome.aggregate, True
        self.publish.extend(outcome.publish)
        self.index.update(index)  # as successive commits would leave it: the latest value wins
        if event_id is not None:
            self.processed.append(event_id)

    def commit(self, collection: str, doc_id: str) -> Commit | None:
        """The one write of the document's items; None when there is nothing to write."""
        if self.changed and self.current is not None:
            state = self.mapper.to_document(self.current)
        elif self.doc is not None and self.processed:
            state = self.doc.state  # nothing changed: only remember the ids were seen
        else:
            return None
        return Commit(
            collection,
            doc_id,
            self.doc.version if self.doc is not None else 0,
            state,
            self.processed[0] if self.processed else None,
            outbox=[to_outbox(e) for e in self.publish],
            index=self.index,
            also_processed=self.processed[1:],
        )
