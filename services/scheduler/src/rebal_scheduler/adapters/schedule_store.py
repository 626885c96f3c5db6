"""ScheduleState <-> the store document.

The whole schedule is ONE document (collection ``schedule``, id ``default``):
watermarks of every series and the known model calendars. That is what makes a
slot exactly-once: advancing the watermarks and putting the slot's event in the
outbox are one versioned write, so of two schedulers that computed the same
slot only the first commit wins; the other reloads and finds nothing due.
"""

from __future__ import annotations

from typing import Any

from rebal_runtime.repository import DocumentMapper, Repository
from rebal_runtime.store import Document, DocumentStore
from rebal_scheduler.domain.schedule_state import ScheduleState
from rebal_scheduler.service_layer.handlers import SCHEDULE_ID

__all__ = [
    "DOCUMENT_FORMAT",
    "SCHEDULE_COLLECTION",
    "SCHEDULE_ID",
    "schedule_repository",
    "state_from_document",
    "state_to_document",
]

SCHEDULE_COLLECTION = "schedule"
DOCUMENT_FORMAT = 1
"""Bumped (with a migration in :func:`state_from_document`) when the shape changes."""


def state_from_document(doc: Document | None) -> ScheduleState:
    """A missing document is a first start: no models, no watermarks."""
    if doc is None:
        return ScheduleState()
    return state_from_state(doc.state)


def state_from_state(state: dict[str, Any]) -> ScheduleState:
    fmt = state.get("format", DOCUMENT_FORMAT)
    if fmt != DOCUMENT_FORMAT:
        raise ValueError(
            f"schedule document format {fmt} is not supported (expected {DOCUMENT_FORMAT})"
        )
    return ScheduleState.from_document(state)


def state_to_document(state: ScheduleState) -> dict[str, Any]:
    return {"format": DOCUMENT_FORMAT, **state.to_document()}


def schedule_repository(store: DocumentStore) -> Repository[ScheduleState]:
    return Repository(
        store, SCHEDULE_COLLECTION, DocumentMapper(state_to_document, state_from_state)
    )
