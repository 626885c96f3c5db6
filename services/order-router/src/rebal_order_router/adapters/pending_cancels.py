"""The cancels kept for runs not stored yet (`domain/pending_cancel.py`) <-> ONE document of
collection `pending_cancels`.

One document rather than one per run: the store has no delete, so only entries inside a
document can really go away; every write drops the expired ones (`PendingCancels.kept`,
`.without`), which keeps the document at a day's worth of cancels of unknown runs at most.
Those are rare (a backlog of readies, CLIENT runs), and an optimization.ready only reads it,
so the single document is no point of contention. Times are ISO 8601.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rebal_order_router.domain import PendingCancel, PendingCancels
from rebal_runtime.repository import DocumentMapper

PENDING_CANCELS_COLLECTION = "pending_cancels"
DOCUMENT_ID = "kept"


def _to_doc(pending: PendingCancels) -> dict[str, Any]:
    return {
        "cancels": {
            run_id: {
                "portfolio_id": c.portfolio_id,
                "request_event_id": c.request_event_id,
                "reason": c.reason,
                "recorded_at": c.recorded_at.isoformat(),
            }
            for run_id, c in sorted(pending.entries.items())
        }
    }


def _from_doc(doc: dict[str, Any]) -> PendingCancels:
    return PendingCancels(
        {
            run_id: PendingCancel(
                run_id=run_id,
                portfolio_id=c["portfolio_id"],
                request_event_id=c["request_event_id"],
                reason=c["reason"],
                recorded_at=datetime.fromisoformat(c["recorded_at"]),
            )
            for run_id, c in doc.get("cancels", {}).items()
        }
    )


PENDING_CANCELS_MAPPER = DocumentMapper(_to_doc, _from_doc)
