"""The order-router's settings: the runtime's (env prefix ``REBAL_``) plus the broker connection.

Pointing the router at Alpaca's paper-trading sandbox instead of the embedded simulator::

    REBAL_BROKER_BASE_URL=https://broker-api.sandbox.alpaca.markets
    REBAL_BROKER_KEY=<API key from the Alpaca Broker dashboard (sandbox)>
    REBAL_BROKER_SECRET=<its secret>
    REBAL_BROKER_REQUESTS_PER_MINUTE=200   # the key's limit (more for broker partners)

The key and secret are the Broker API credentials shown once in the Alpaca *Broker* dashboard
(sandbox environment, "API Keys"); they are sent as HTTP Basic authentication. The accounts the
orders are placed for are the `account_id` of each optimization.ready, so they must be sandbox
accounts of that broker. Sandbox orders trade paper money and fill only during market hours.
The secret is a `SecretStr`: it never appears in a log line, an error or `repr(settings)`.
The trade date of a fill is its date in the market time zone, the runtime's
`REBAL_MARKET_TIMEZONE` (`settings.market_tz`, America/New_York by default).
"""

from __future__ import annotations

from datetime import time
from decimal import Decimal
from typing import Self

from pydantic import AwareDatetime, Field, SecretStr, model_validator

from rebal_order_router.domain import RetryPolicy
from rebal_runtime.settings import RuntimeSettings


class RouterSettings(RuntimeSettings):
    service_name: str = Field(
        "order-router", description="Consumer group id, `producer` of events, log field."
    )

    broker_base_url: str = Field(
        "http://127.0.0.1:8080",
        description="Alpaca Broker API base URL: the broker simulator (default) or "
        "https://broker-api.sandbox.alpaca.markets for Alpaca's paper-trading sandbox.",
    )
    broker_key: SecretStr = Field(
        SecretStr("sim-key"),
        description="Broker API key (HTTP Basic user). The default is the simulator's.",
    )
    broker_secret: SecretStr = Field(
        SecretStr("sim-secret"),
        description="Broker API secret (HTTP Basic password; never logged). The default is "
        "the simulator's.",
    )
    broker_timeout_seconds: float = Field(
        10.0,
        gt=0,
        description="Timeout of one broker HTTP request. A submit that times out is looked up "
        "by client_order_id before it is ever sent again.",
    )
    broker_stream_idle_seconds: float = Field(
        120.0,
        gt=0,
        description="The trade-update stream is considered dead (and reconnected from the last "
        "processed event id) after this long without a byte, heartbeats included.",
    )

    broker_requests_per_minute: float = Field(
        200.0,
        gt=0,
        description="Requests per minute the router makes to the broker API at most, over all "
        "calls (submits, lookups, cancels, stream connects) and runs: Alpaca's limit of the "
        "API key (200/min by default for trading API keys, more for broker partners). Bursts "
        "are one second's worth. A 429 holds every call for its Retry-After. The embedded "
        "simulator limits nothing unless told to (its `rate_limit_per_minute`).",
    )
    broker_max_in_flight: int = Field(
        8,
        ge=1,
        description="Broker API requests in flight at once, over all calls and runs: the one "
        "concurrency limit of the order path. The dispatcher works on 4 runs per slot at "
        "once and starts every sendable order of each (sells before buys per run); their "
        "requests queue here, in turn, then pass the rate limit "
        "(`broker_requests_per_minute`). The keep-alive pool holds one connection per slot, "
        "and one for the trade-update stream.",
    )

    retry_max_attempts: int = Field(
        6,
        ge=1,
        description="Broker calls (submits and lookups) in one exactly-once submission before "
        "the dispatcher gives up for now and retries the run later.",
    )
    retry_base_delay_seconds: float = Field(
        0.2, ge=0, description="Backoff before the second broker call; doubles per failure."
    )
    retry_max_delay_seconds: float = Field(10.0, gt=0, description="Cap of one backoff delay.")
    retry_jitter: float = Field(
        0.5, ge=0, le=1, description="A backoff delay is shortened by up to this fraction."
    )
    retry_max_retry_after_seconds: float = Field(
        60.0,
        gt=0,
        description="A 429 Retry-After longer than this ends the attempt (the run is retried "
        "later) instead of waiting on.",
    )

    dispatch_poll_seconds: float = Field(
        1.0,
        gt=0,
        description="How often the dispatcher looks for runs with orders to send, besides being "
        "woken at once when a run is stored or its sells complete.",
    )
    dispatch_backoff_max_seconds: float = Field(
        30.0,
        gt=0,
        description="Longest wait before a run whose broker calls failed is tried again "
        "(the wait doubles per consecutive failure, from dispatch_poll_seconds).",
    )
    run_lease_seconds: float = Field(
        15.0,
        gt=0,
        description="Length of the store lease an instance holds on a run while it sends, "
        "cancels or reconciles it (instances sharing one store work on a run one at a time). "
        "Renewed every third of it while the work lasts, released at the end; a killed "
        "holder's lease expires after it, then the other instance takes the run over. Longer "
        "than the store's worst write wait (SQLite's 5 s busy timeout) plus a renewal period, "
        "short enough that a crash delays the run's orders by seconds.",
    )
    reconcile_seconds: float = Field(
        30.0,
        gt=0,
        description="Period of the reconciliation poll: every open order is looked up by "
        "client_order_id, so a fill or close the stream missed is still reported.",
    )
    stream_enabled: bool = Field(
        True,
        description="Follow the broker's trade-update stream (SSE). Off: fills are learned from "
        "submit answers and the reconciliation poll only.",
    )
    stream_reconnect_seconds: float = Field(
        1.0,
        gt=0,
        description="First wait before reconnecting a broken stream; doubles up to 30 s.",
    )

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            max_attempts=self.retry_max_attempts,
            base_delay=self.retry_base_delay_seconds,
            max_delay=max(self.retry_max_delay_seconds, self.retry_base_delay_seconds),
            jitter=self.retry_jitter,
            max_retry_after=self.retry_max_retry_after_seconds,
        )

    # -- the execution window (docs/design.md §3 "Execution window") ---------------------------
    execution_window_open: time = Field(
        time(9, 30),
        description="Start of the execution window on each trading session, in the market time "
        "zone (Alpaca: 09:30 New York). PLATFORM orders leave only inside the window; a run "
        "ready outside it is QUEUED until the next opening. The ALWAYS_OPEN calendar is always "
        "inside, whatever the window.",
    )
    execution_window_close: time = Field(
        time(15, 30),
        description="End of the execution window (exclusive), in the market time zone (Alpaca: "
        "15:30 New York); an early close of the session ends it sooner. The legs of a started "
        "run not sent by then expire at it (order.closed expired).",
    )
    execution_start_rate: float = Field(
        10.0,
        gt=0,
        description="QUEUED runs started per second once the window opens (oldest first).",
    )
    execution_queue_poll_seconds: float = Field(
        1.0, gt=0, description="How often the queue drain looks for QUEUED runs to start."
    )
    replan_price_tolerance: Decimal = Field(
        Decimal("0.02"),
        ge=0,
        description="Largest move of a symbol's last price (market.prices) from the plan's "
        "expected price, as a fraction (0.02 = 2 %), at which a QUEUED run still starts; "
        "beyond it no order is sent and the run stops for a re-plan.",
    )
    pending_cancel_seconds: float = Field(
        86400.0,
        gt=0,
        description="How long a run.cancel_requested read before its run's optimization.ready "
        "(another topic: a backlog of readies, a restart) is kept for it; the ready then stores "
        "the run already canceled, nothing sent. Longer than any backlog of readies; a kept "
        "cancel whose ready never comes (a CLIENT run) is dropped after it.",
    )
    clock_start_at: AwareDatetime | None = Field(
        None,
        description="Demo/test only (REBAL_PROFILE=dev): the process clock starts at this "
        "instant and runs on in real time, e.g. 02:00 New York to see runs queue for the "
        "window. Unset: the system clock.",
    )

    @model_validator(mode="after")
    def _window_and_clock(self) -> Self:
        if not self.execution_window_open < self.execution_window_close:
            raise ValueError("execution_window_open must be before execution_window_close")
        if self.clock_start_at is not None:
            self.require_dev("REBAL_CLOCK_START_AT", "a process clock that is not the real time")
        return self
