"""Cancels kept for runs not stored yet: the first request per run counts, each is kept for a
bounded time and within a bounded number, and expired ones are dropped at every change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson

from rebal_order_router.adapters.pending_cancels import PENDING_CANCELS_MAPPER
from rebal_order_router.domain import MAX_PENDING_CANCELS, PendingCancel, PendingCancels

AT = datetime(2026, 3, 10, 7, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def cancel(run_id: str, at: datetime = AT, request: str = "cancel-1") -> PendingCancel:
    return PendingCancel(run_id, "pf-1", request, "owner asked", at)


def test_the_first_request_for_a_run_is_kept() -> None:
    kept = PendingCancels().kept(cancel("run-1"), AT, DAY)
    again = kept.kept(cancel("run-1", AT + timedelta(minutes=1), "cancel-2"), AT, DAY)
    assert again == kept
    assert again.find("run-1", AT, DAY) == cancel("run-1")
    assert again.find("run-2", AT, DAY) is None
    assert again.without("run-1", AT, DAY) == PendingCancels()


def test_a_kept_cancel_expires_and_is_dropped_at_the_next_change() -> None:
    kept = PendingCancels().kept(cancel("old"), AT, DAY)
    assert kept.find("old", AT + DAY - timedelta(seconds=1), DAY) is not None
    assert kept.find("old", AT + DAY, DAY) is None
    later = kept.kept(cancel("new", AT + DAY), AT + DAY, DAY)
    assert sorted(later.entries) == ["new"]
    assert kept.without("other", AT + DAY, DAY) == PendingCancels()


def test_at_most_a_bounded_number_is_kept_the_oldest_go_first() -> None:
    kept = PendingCancels(
        {f"run-{n:05}": cancel(f"run-{n:05}", AT + timedelta(seconds=n)) for n in range(10_000)}
    )
    assert len(kept.entries) == MAX_PENDING_CANCELS
    more = kept.kept(cancel("newest", AT + timedelta(hours=1)), AT + timedelta(hours=1), DAY)
    assert len(more.entries) == MAX_PENDING_CANCELS
    assert "newest" in more.entries and "run-00000" not in more.entries


def test_the_document_round_trips_through_json() -> None:
    kept = PendingCancels().kept(cancel("run-1"), AT, DAY).kept(cancel("run-2"), AT, DAY)
    doc = orjson.loads(orjson.dumps(PENDING_CANCELS_MAPPER.to_document(kept)))
    assert PENDING_CANCELS_MAPPER.from_document(doc) == kept
