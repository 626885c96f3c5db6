"""Settings of the settlement-tracker (environment variables with prefix `REBAL_`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from rebal_runtime.settings import RuntimeSettings
from rebal_settlement_tracker.domain import SettlementCycles, UnblockOn

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
    trading_calendar: str = Field(
        "XNYS",
        description="exchange_calendars code of the exchange whose sessions count as business "
        'days for settlement; its time zone decides what "today" is. `ALWAYS_OPEN` makes every '
        "day a business day (demo only).",
    )
    unblock_on: UnblockOn = Field(
        UnblockOn.SETTLED,
        description="When a transaction counts as final for run.completed: `SETTLED` (the "
        "InvestSuite seed, default) or `EXECUTED` (the portfolio unblocks on execution; "
        "transaction.settled still follows at settlement).",
    )
    settlement_sweep_seconds: float = Field(
        30.0,
        gt=0,
        description="How often the clock-driven sweep settles transactions whose settlement "
        "date has come.",
    )

    def cycles(self) -> SettlementCycles:
        return SettlementCycles(dict(self.settlement_cycles), self.settlement_cycle_days)
