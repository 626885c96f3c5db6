"""The FastStream application, used to generate the AsyncAPI document (`make asyncapi`).

Building it connects nowhere: the store, Kafka and the clock loop start only when it runs.
"""

from __future__ import annotations

from faststream import FastStream

from rebal_scheduler.bootstrap import bootstrap
from rebal_scheduler.settings import SchedulerSettings


def asyncapi_app(settings: SchedulerSettings | None = None) -> FastStream:
    scheduler = bootstrap(settings)
    return scheduler.runtime.app(
        title="rebal scheduler",
        description="Calendar conditions of model portfolios, the nightly batch and drift "
        "sweeps on the trading calendar: one rebalance.requested per slot, exactly once.",
    )
