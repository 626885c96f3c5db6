"""The FastStream application of the settlement-tracker, for the AsyncAPI document.

Building it connects nowhere: `make asyncapi` imports `asyncapi_app()` and reads the spec.
"""

from __future__ import annotations

from faststream import FastStream

from rebal_settlement_tracker.bootstrap import bootstrap
from rebal_settlement_tracker.settings import SettlementSettings

DESCRIPTION = (
    "Owns runs (Alpaca's run lifecycle). Publishes run.created when a run's plan arrives "
    "(QUEUED) and run.status_changed at every later status (IN_PROGRESS at the order-router's "
    "run.execution_started or the first order event, then COMPLETED_SUCCESS / COMPLETED_ADJUSTED "
    "/ ERROR / CANCELED / CANCELED_MID_RUN / TIMEOUT); run.completed, the Alpaca run object with "
    "its orders and failed and skipped orders, once every order is final; transaction.settled "
    "per transaction at trade date + settlement cycle on the exchange's business days (also for "
    "a fill reported after its run ended, which reopens nothing); run.settled once every "
    "transaction is final (SETTLED, or ended without execution). Consumes run.execution "
    "(order-router only, signed): queued keeps the run QUEUED, started moves it IN_PROGRESS, "
    "stopped ends it (canceled and replan at once, canceled_mid_run once every order is final). "
    "A run whose outcomes are not all known `run_timeout_seconds` after IN_PROGRESS (a CLIENT "
    "run: after its creation) ends TIMEOUT. Answers a run.cancel_requested of an unknown or "
    "final run with request.rejected; a CLIENT run's cancel ends it at once; a PLATFORM run's "
    "is recorded and left to the order-router, whose stop names the request."
)


def asyncapi_app(settings: SettlementSettings | None = None) -> FastStream:
    service = bootstrap(settings or SettlementSettings())
    return service.runtime.app(title="rebal settlement-tracker", description=DESCRIPTION)
