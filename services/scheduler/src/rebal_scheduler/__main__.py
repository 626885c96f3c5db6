"""`python -m rebal_scheduler`: run the scheduler until SIGINT/SIGTERM."""

from __future__ import annotations

from rebal_runtime import event_loop
from rebal_runtime.gc_tuning import tune_gc
from rebal_runtime.log import configure_logging
from rebal_runtime.service import run_forever
from rebal_scheduler.bootstrap import bootstrap
from rebal_scheduler.settings import SchedulerSettings


def main() -> None:
    settings = SchedulerSettings()
    configure_logging(settings.log_level, settings.log_format)
    runtime = bootstrap(settings).runtime
    tune_gc()  # what start made stays; the hot loop's garbage is collected less often
    event_loop.run(run_forever(runtime))


if __name__ == "__main__":
    main()
