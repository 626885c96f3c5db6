"""The garbage collector tuned for a service's hot loop (every service's main calls `tune_gc`).

Every message allocates many short-lived objects (events, aggregates, documents): with the
default thresholds the collector runs every 700 allocations and, as the heap of work in flight
grows, its full collections walk all of it: a quarter of the settlement-tracker's CPU in a
burst (bench/settlement_tracker). The
objects made at start (modules, schemas, the wiring) never become garbage: `freeze` moves them
out of the collector's sight, and the higher thresholds collect the young generation once per
10,000 allocations. Cycles are still collected (few are made here), only less often.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000
OLDER_THRESHOLD = 50


def tune_gc() -> None:
    """Call once the service is built (its modules imported, its wiring made), before it runs."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, OLDER_THRESHOLD, OLDER_THRESHOLD)
