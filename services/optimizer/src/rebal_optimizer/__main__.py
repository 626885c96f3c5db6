"""`python -m rebal_optimizer`: run the optimizer until SIGINT/SIGTERM."""

from __future__ import annotations

from rebal_optimizer.bootstrap import bootstrap
from rebal_optimizer.settings import OptimizerSettings
from rebal_runtime import event_loop
from rebal_runtime.gc_tuning import tune_gc
from rebal_runtime.log import configure_logging
from rebal_runtime.service import run_forever


def main() -> None:
    settings = OptimizerSettings()
    configure_logging(settings.log_level, settings.log_format)
    runtime = bootstrap(settings).runtime
    tune_gc()  # what start made stays; the hot loop's garbage is collected less often
    event_loop.run(run_forever(runtime))


if __name__ == "__main__":
    main()
