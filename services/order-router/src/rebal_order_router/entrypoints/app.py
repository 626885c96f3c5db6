"""The FastStream application, used to generate the AsyncAPI document (`make asyncapi`).

Building it connects nowhere: the store, Kafka, the broker client and the background loops
start only when it runs.
"""

from __future__ import annotations

from faststream import FastStream

from rebal_order_router.bootstrap import bootstrap
from rebal_order_router.settings import RouterSettings


def asyncapi_app(settings: RouterSettings | None = None) -> FastStream:
    router = bootstrap(settings)
    return router.runtime.app(
        title="rebal order-router",
        description="Routes the orders of ready optimizations to an Alpaca-compatible broker, "
        "each exactly once (deterministic client_order_id, intent stored before it is sent, "
        "lookup before any re-send), and reports every execution (order.filled, cumulative) and "
        "every order that ended without a full fill (order.closed).",
    )
