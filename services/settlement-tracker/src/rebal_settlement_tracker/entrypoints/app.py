"""The FastStream application of the settlement-tracker, for the AsyncAPI document.

Building it connects nowhere: `make asyncapi` imports `asyncapi_app()` and reads the spec.
"""

from __future__ import annotations

from faststream import FastStream

from rebal_settlement_tracker.bootstrap import bootstrap
from rebal_settlement_tracker.settings import SettlementSettings

DESCRIPTION = (
    "Tracks every transaction of a ready optimization to its final state (EXECUTED, SETTLED at "
    "trade date + settlement cycle on the exchange's business days, or NOT_EXECUTED / EXPIRED / "
    "CANCELLED) and publishes transaction.settled per settlement and exactly one run.completed "
    "per run."
)


def asyncapi_app(settings: SettlementSettings | None = None) -> FastStream:
    service = bootstrap(settings or SettlementSettings())
    return service.runtime.app(title="rebal settlement-tracker", description=DESCRIPTION)
