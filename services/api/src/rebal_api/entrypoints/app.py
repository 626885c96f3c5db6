"""The FastStream application, used to generate the AsyncAPI document (`make asyncapi`).

Building it connects nowhere: the store, Kafka and the HTTP server start only when it runs.
"""

from __future__ import annotations

from faststream import FastStream

from rebal_api.bootstrap import bootstrap
from rebal_api.settings import ApiSettings


def asyncapi_app(settings: ApiSettings | None = None) -> FastStream:
    return bootstrap(settings).runtime.app(
        title="rebal api",
        description="Alpaca's Rebalancing API over rebal: a projection of the public topics for "
        "its reads; its writes as model.updated, portfolio.patched, rebalance.requested and "
        "run.cancel_requested, through the outbox.",
    )
