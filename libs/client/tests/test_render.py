"""`rebal follow` prints one line per event, the run lifecycle's too."""

from __future__ import annotations

from pathlib import Path

import pytest

from rebal_client.render import render_event
from rebal_schemas import decode

GOLDEN = Path(__file__).resolve().parents[2] / "schemas" / "tests" / "golden" / "v1"


@pytest.mark.parametrize(
    ("file", "topic", "shown"),
    [
        (
            "run.status_changed.created.json",
            "run.status_changed",
            ["QUEUED", "partial_liquidation"],
        ),
        ("run.status_changed.changed.json", "run.status_changed", ["IN_PROGRESS", "pf-003"]),
        ("run.completed.v2.json", "run.completed", ["COMPLETED_ADJUSTED", "orders 1/2"]),
        ("run.settled.json", "run.settled", ["COMPLETED_ADJUSTED", "pf-003"]),
        (
            "request.rejected.json",
            "request.rejected",
            ["OWN_WEIGHTS_WHILE_SUBSCRIBED", "refused rebalance.requested 01JREBALANCE"],
        ),
        ("model.status_changed.json", "model.status_changed", ["needs_adjustment", "XYZ"]),
    ],
)
def test_each_run_lifecycle_event_has_its_line(file: str, topic: str, shown: list[str]) -> None:
    line = render_event(topic, decode(topic, (GOLDEN / file).read_bytes()), None)
    for part in shown:
        assert part in line, line
