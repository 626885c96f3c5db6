"""Which runs a capped dispatcher round starts: in turn, from where the last round stopped.

A model change leaves thousands of runs needing dispatch at once. Reading the whole index on
every wake-up, and giving every waiting run a task that holds and renews a store lease, cost
more the longer the backlog grew; a round instead reads the `needs_dispatch` index a page at a
time after the cursor (the run it started last) and wraps around once, so every run gets its
turn within one pass whatever ids arrive meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable

from rebal_order_router.service_layer.ports import Runs


async def runs_in_turn(
    runs: Runs, cursor: str | None, room: int, startable: Callable[[str], bool]
) -> list[str]:
    """Up to `room` startable runs needing dispatch, the first ones after `cursor` (wrapping
    around once to the ones before it)."""
    chosen: list[str] = []
    after, wrapped = cursor, False
    while len(chosen) < room:
        limit = max(2 * (room - len(chosen)), 16)  # a few running or backing-off runs skipped
        page = await runs.runs_needing_dispatch_after(after, limit)
        for run_id in page:
            if wrapped and cursor is not None and run_id > cursor:
                return chosen  # every run needing dispatch looked at once
            after = run_id
            if startable(run_id):
                chosen.append(run_id)
                if len(chosen) == room:
                    return chosen
        if len(page) < limit:  # the end of the index
            if wrapped or cursor is None:
                return chosen
            wrapped, after = True, None
    return chosen
