"""The optimizer's settings: the runtime's (env prefix ``REBAL_``) plus when and how to optimize.

'At most one automatic optimization per trading day' and rolling a weekend/holiday evaluation
back to the previous trading day use the runtime's trading calendar (``REBAL_TRADING_CALENDAR``),
the day read in ``REBAL_MARKET_TIMEZONE``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal, Self

from pydantic import Field, model_validator

from rebal_runtime.settings import RuntimeSettings


class OptimizerSettings(RuntimeSettings):
    service_name: str = Field(
        "optimizer", description="Consumer group id, `producer` of events, log field."
    )
    max_price_age_seconds: float = Field(
        4 * 24 * 3600.0,
        gt=0,
        description="A price older than this (its `as_of` against the optimizer's clock) is "
        "stale: an optimization that needs it fails with PRICE_STALE instead of trading on it. "
        "The default (4 days) lets the nightly batch and a long weekend use the last close; "
        "intraday-only deployments lower it.",
    )
    advisory_expiry_seconds: float = Field(
        2 * 24 * 3600.0,
        gt=0,
        description="An advisory optimization left AWAITING_OWNER this long becomes EXPIRED "
        "(optimization.status_changed); a later ACCEPT for it is refused (dead.letter).",
    )
    expiry_sweep_seconds: float = Field(
        60.0,
        gt=0,
        description="How often the background sweep looks for advisory optimizations to expire; "
        "one expires at most this long after its deadline.",
    )
    fanout_batch: int = Field(
        1000,
        ge=1,
        le=100_000,
        description="Fan-out of a `rebalance.requested` with scope `model`/`all`: portfolio ids "
        "read per store page and per-portfolio requests published per pipelined batch. The "
        "progress is saved after each batch, so a redelivered fan-out resumes where it stopped.",
    )
    stale_block_seconds: float = Field(
        3 * 24 * 3600.0,
        gt=0,
        description="A portfolio blocked by one run longer than this raises the stale-block "
        "alarm (an error line once per portfolio and block): its run's outcome may have been "
        "lost. Longer than the slowest normal run: a run queued over a long weekend, plus the "
        "settlement cycle where the portfolio unblocks on run.settled.",
    )
    stale_block_check_seconds: float = Field(
        300.0, gt=0, description="How often the stale-block alarm looks for such portfolios."
    )
    history_enabled: bool = Field(
        True,
        description="Keep every optimization and status change in the append-only "
        "`optimizations` collection (the decision records). Off only for benchmarks: refused "
        "under the prod profile.",
    )

    @model_validator(mode="after")
    def _benchmark_switch_needs_dev(self) -> Self:
        if not self.history_enabled:
            self.require_dev("REBAL_HISTORY_ENABLED=false", "no decision records, for benchmarks")
        return self

    @property
    def max_price_age(self) -> timedelta:
        return timedelta(seconds=self.max_price_age_seconds)

    @property
    def stale_block(self) -> timedelta:
        return timedelta(seconds=self.stale_block_seconds)

    @property
    def advisory_expiry(self) -> timedelta:
        return timedelta(seconds=self.advisory_expiry_seconds)

    unblock_on: Literal["settlement", "execution"] = Field(
        "settlement",
        description="When a READY optimization's run unblocks its portfolio: `settlement` (on "
        "run.settled, every transaction final: InvestSuite's original rule, the default) or "
        "`execution` (already on run.completed, every order final). The executed trades are "
        "applied on run.completed either way.",
    )
    client_holdings_wait_seconds: float = Field(
        24 * 3600.0,
        gt=0,
        description="CLIENT integration: how long after a run's last execution the optimizer "
        "waits for the client's holdings snapshot showing it; after that it optimizes on its own "
        "book (the run's trades applied) and says so (CLIENT_HOLDINGS_LATE in the next "
        "optimization). Default: one day.",
    )

    @property
    def client_holdings_wait(self) -> timedelta:
        return timedelta(seconds=self.client_holdings_wait_seconds)

    model_wait_seconds: float = Field(
        3600.0,
        gt=0,
        description="A subscription (portfolio.settings_changed with a model_id) to a model the "
        "optimizer has not read yet is accepted and waits this long for its model.updated (the "
        "two topics have no order between them); then, with the advisory expiry sweep, it is "
        "refused (request.rejected MODEL_UNKNOWN, or MODEL_INACTIVE if it arrived inactive) "
        "and the subscription ends. Default: one hour.",
    )

    @property
    def model_wait(self) -> timedelta:
        return timedelta(seconds=self.model_wait_seconds)
