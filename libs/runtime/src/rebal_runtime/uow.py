"""Handle an event against one aggregate document, exactly once (docs/design.md §4).

`apply_once` loads the document, skips the event if its id is already among the document's
processed ids (inbox), lets the handler compute the change, and commits state + processed id +
outbox events in one atomic write. A concurrent writer makes the commit fail on the version check;
the whole step is then re-run on fresh state.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from rebal_runtime.store.port import (
    Commit,
    ConcurrencyError,
    Document,
    DocumentStore,
    IndexValue,
    JsonDict,
    OutboxMessage,
)
from rebal_schemas import Event, encode, key_of


@dataclass(frozen=True)
class Change:
    """What a handler wants written: the new state, events to publish, index values."""

    state: JsonDict
    publish: Sequence[Event] = ()
    index: Mapping[str, IndexValue] = field(default_factory=dict)


Mutation = Callable[[Document | None], Awaitable[Change | None]]


def to_outbox(event: Event) -> OutboxMessage:
    headers: tuple[tuple[str, bytes], ...] = (
        ("event_type", event.event_type.encode()),
        ("event_id", event.event_id.encode()),
        ("schema_version", str(event.schema_version).encode()),
    )
    if event.correlation_id:
        headers += (("correlation_id", event.correlation_id.encode()),)
    return OutboxMessage(event.event_id, event.TOPIC, key_of(event), encode(event), headers)


async def apply_once(
    store: DocumentStore,
    collection: str,
    doc_id: str,
    event_id: str | None,
    mutate: Mutation,
    *,
    attempts: int = 20,
) -> bool:
    """Run `mutate` on the document and commit. Returns False when the event was already applied.

    `mutate` returning None means "no change"; the event id is still recorded when the document
    exists, so a redelivery is recognised cheaply.
    """
    for _ in range(attempts):
        doc = await store.load(collection, doc_id)
        if doc is not None and event_id is not None and doc.has_processed(event_id):
            return False
        change = await mutate(doc)
        if change is None:
            if doc is None or event_id is None:
                return True
            change = Change(doc.state)
        try:
            await store.commit(
                Commit(
                    collection=collection,
                    id=doc_id,
                    expected_version=doc.version if doc else 0,
                    state=change.state,
                    processed_event_id=event_id,
                    outbox=[to_outbox(e) for e in change.publish],
                    index=change.index,
                )
            )
            return True
        except ConcurrencyError:
            continue
    raise ConcurrencyError(f"{collection}/{doc_id}: gave up after {attempts} conflicting attempts")
