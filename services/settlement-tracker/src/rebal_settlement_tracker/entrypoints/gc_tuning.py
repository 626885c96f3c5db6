"""The garbage collector tuned for the tracker's hot loop.

Every fact allocates many short-lived objects (events, runs, transactions, documents): with the
default thresholds the collector runs every 700 allocations and, as the heap of runs in flight
grows, its full collections walk all of it, a quarter of the process's CPU in a burst. The
objects made at start (modules, schemas, the wiring) never become garbage: `freeze` moves them
out of the collector's sight, and the higher thresholds collect the young generation once per
10,000 allocations. Cycles are still collected (few are made here), only less often.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000
OLDER_THRESHOLD = 50


def tune_gc() -> None:
    """Call once the service is built, before it consumes."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, OLDER_THRESHOLD, OLDER_THRESHOLD)
