"""The FastStream application, used to generate the AsyncAPI document (`make asyncapi`).

Building it connects nowhere and loads no trading calendar: the store, Kafka, the calendar and the
expiry loop start only when it runs.
"""

from __future__ import annotations

from faststream import FastStream

from rebal_optimizer.bootstrap import bootstrap
from rebal_optimizer.settings import OptimizerSettings


def asyncapi_app(settings: OptimizerSettings | None = None) -> FastStream:
    optimizer = bootstrap(settings)
    return optimizer.runtime.app(
        title="rebal optimizer",
        description="When to rebalance and what to trade: evaluates portfolios on patches, "
        "model changes and rebalance requests; publishes every optimization with its decision "
        "record and the ready ones for execution; fans out model- and platform-wide requests.",
    )
