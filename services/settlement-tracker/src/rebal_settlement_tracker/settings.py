"""Settings of the settlement-tracker (environment variables with prefix `REBAL_`).

Business days for settlement are the sessions of the runtime's trading calendar
(`REBAL_TRADING_CALENDAR`, XNYS by default); what day it is is read in `REBAL_MARKET_TIMEZONE`.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Annotated, Self

from pydantic import Field, model_validator

from rebal_runtime.settings import RuntimeSettings
from rebal_settlement_tracker.domain import AcceptancePolicy, SettlementCycles

CycleDays = Annotated[int, Field(ge=0)]


class SettlementSettings(RuntimeSettings):
    service_name: str = Field(
        "settlement-tracker",
        description="Consumer group id, `producer` of events, log field.",
    )
    settlement_cycle_days: CycleDays = Field(
        1,
        description="Settlement cycle in trading sessions after the trade date for asset classes "
        "without an override: 1 = T+1 (US equities since May 2024); 0 = T+0, settle on the trade "
        "date (demo: runs complete as soon as they execute).",
    )
    settlement_cycles: dict[str, CycleDays] = Field(
        default_factory=dict,
        description='Per-asset-class overrides of the cycle, as JSON, e.g. `{"us_equity": 1}`.',
    )
    settlement_sweep_seconds: float = Field(
        30.0,
        gt=0,
        description="How often the clock-driven sweep settles transactions whose settlement "
        "date has come.",
    )

    platform_fill_signer: str = Field(
        "order-router",
        description="The producer whose signature a PLATFORM run's fills and closes must carry "
        "when `trusted_signers` is set (it must then hold this signer's key). Without trusted "
        "signers nothing is verified: the broker's ACLs alone vouch for them.",
    )
    fill_notional_tolerance: Decimal = Field(
        Decimal("0.02"),
        ge=0,
        description="How far above a notional order's amount its filled value (quantity x "
        "average price) may go before the fill is refused, as a fraction: 0.02 = 2%.",
    )
    fill_price_band: Decimal = Field(
        Decimal("0.10"),
        ge=0,
        lt=1,
        description="How far a fill's average price may be from the price its order was planned "
        "with (`expected_price` of optimization.ready), as a fraction: 0.10 = 10%. A prices "
        "re-check before queued runs start keeps real fills well inside it.",
    )
    run_timeout_seconds: float = Field(
        86400.0,
        gt=0,
        description="How long after a run reached IN_PROGRESS (a CLIENT run: after its creation; "
        "time QUEUED does not count) its orders' outcomes may stay unknown: then it ends TIMEOUT, "
        "its unknown orders EXPIRED, and the portfolio is unblocked once what executed settles. "
        "Found by the sweep (`settlement_sweep_seconds`).",
    )

    pending_cancel_seconds: float = Field(
        86400.0,
        gt=0,
        description="How long a run.cancel_requested read before its run's optimization.ready "
        "(another topic: a backlog of readies, a restart) is kept for it; the ready then applies "
        "it (a PLATFORM run's cancel is recorded for the order-router, which keeps its own copy "
        "as long: set both alike; a CLIENT run is canceled). A cancel whose run never comes is "
        "refused RUN_UNKNOWN after it, by the sweep.",
    )

    @model_validator(mode="after")
    def _platform_signer_is_trusted(self) -> Self:
        if self.trusted_signers and self.platform_fill_signer not in self.trusted_signers:
            raise ValueError(
                f"trusted_signers is set but has no key for {self.platform_fill_signer!r}: "
                "every PLATFORM fill would be refused"
            )
        return self

    def acceptance(self) -> AcceptancePolicy:
        """What fills and closes the service accepts (`domain/acceptance.py`)."""
        return AcceptancePolicy(
            platform_signer=self.platform_fill_signer if self.trusted_signers else None,
            notional_tolerance=self.fill_notional_tolerance,
            price_band=self.fill_price_band,
        )

    def run_timeout(self) -> timedelta:
        return timedelta(seconds=self.run_timeout_seconds)

    def cancel_wait(self) -> timedelta:
        return timedelta(seconds=self.pending_cancel_seconds)

    def cycles(self) -> SettlementCycles:
        return SettlementCycles(dict(self.settlement_cycles), self.settlement_cycle_days)
