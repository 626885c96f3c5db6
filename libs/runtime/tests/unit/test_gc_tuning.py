"""The collector tuning of the service's main: start's objects frozen, fewer young collections."""

from __future__ import annotations

import gc

from rebal_runtime.gc_tuning import (
    OLDER_THRESHOLD,
    YOUNG_THRESHOLD,
    tune_gc,
)


def test_tune_gc_freezes_what_exists_and_raises_the_thresholds() -> None:
    thresholds = gc.get_threshold()
    try:
        tune_gc()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (YOUNG_THRESHOLD, OLDER_THRESHOLD, OLDER_THRESHOLD)
        assert gc.isenabled()  # cycles are still collected
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
