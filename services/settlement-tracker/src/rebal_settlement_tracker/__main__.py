"""`python -m rebal_settlement_tracker`: run the service until SIGINT/SIGTERM."""

from __future__ import annotations

from rebal_runtime import event_loop
from rebal_runtime.gc_tuning import tune_gc
from rebal_runtime.log import configure_logging
from rebal_runtime.service import run_forever
from rebal_settlement_tracker.bootstrap import bootstrap
from rebal_settlement_tracker.settings import SettlementSettings


async def serve(settings: SettlementSettings) -> None:
    service = bootstrap(settings)
    tune_gc()  # what start made stays; the hot loop's garbage is collected less often
    await run_forever(service.runtime)


def main() -> None:
    settings = SettlementSettings()
    configure_logging(settings.log_level, settings.log_format)
    event_loop.run(serve(settings))


if __name__ == "__main__":
    main()
