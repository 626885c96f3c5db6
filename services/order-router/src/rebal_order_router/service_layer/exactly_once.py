"""`submit_exactly_once`: send one order so that it reaches the broker at most once, even when
the answer is lost (docs/design.md §4 "Broker orders").

Each broker call is one attempt. The loop is a small state machine:
  SUBMIT  -> success: done. DuplicateClientOrderId: ADOPT. BrokerUnavailable (timeout, 5xx...):
             the order may exist, so LOOK_UP before any new submit. RateLimited: the request was
             refused unprocessed, so SUBMIT again after Retry-After. OrderRejected: raise.
  LOOK_UP -> found: adopt it, done. Not found: SUBMIT (no wait). Failure: LOOK_UP again.
  ADOPT   -> found: done. Not found (the broker said it exists): wait, ADOPT again.
Waits are bounded exponential backoff with jitter; a Retry-After is honoured as given.
Every SUBMIT first asks `may_submit` (the execution window: a retry may come after the close);
a refusal raises SubmitWithheld and sends nothing (lookups go on: they place no order).
When the attempts run out the last transient error is raised: the caller leaves the message
unacked and a later redelivery runs this again, which is safe for the same reasons.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from decimal import Decimal
from enum import StrEnum

from rebal_order_router.domain import (
    BrokerError,
    BrokerOrder,
    BrokerPort,
    BrokerUnavailable,
    DuplicateClientOrderId,
    OrderSide,
    RateLimited,
    RetryPolicy,
)
from rebal_runtime.backoff import Backoff

log = logging.getLogger(__name__)

DEFAULT_RETRY_POLICY = RetryPolicy()


def backoff_delay(policy: RetryPolicy, failures: int, random_fraction: float) -> float:
    """Delay after the `failures`-th consecutive failure (1-based), in
    [(1 - jitter) * cap, cap] with cap = min(max_delay, base_delay * 2 ** (failures - 1)):
    the runtime's `Backoff` with the policy's numbers."""
    if failures < 1:
        raise ValueError("failures must be >= 1")
    backoff = Backoff(policy.base_delay, policy.max_delay, jitter=policy.jitter)
    return backoff.delay(failures - 1, random_fraction)


class SubmitWithheld(Exception):
    """The order may not leave now (`may_submit` said no): nothing was sent this time."""


def _always() -> bool:
    return True


class _Step(StrEnum):
    SUBMIT = "submit"
    LOOK_UP = "look_up"
    ADOPT = "adopt"


async def submit_exactly_once(
    broker: BrokerPort,
    account_id: str,
    client_order_id: str,
    symbol: str,
    side: OrderSide,
    *,
    qty: Decimal | None = None,
    notional: Decimal | None = None,
    policy: RetryPolicy = DEFAULT_RETRY_POLICY,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    random_fraction: Callable[[], float] = random.random,
    may_submit: Callable[[], bool] = _always,
) -> BrokerOrder:
    """The broker's order for `client_order_id`: newly submitted or adopted if it already exists.

    Raises OrderRejected (permanent), the last BrokerUnavailable / RateLimited (transient), or
    SubmitWithheld when a submit was due but `may_submit` refused it.
    """
    step = _Step.SUBMIT
    failures = 0
    last_error: BrokerError | None = None
    for attempt in range(1, policy.max_attempts + 1):
        tried = step
        try:
            if step is _Step.SUBMIT:
                if not may_submit():
                    raise SubmitWithheld(client_order_id)
                return await broker.submit_order(
                    account_id, client_order_id, symbol, side, qty=qty, notional=notional
                )
            found = await broker.get_order_by_client_order_id(account_id, client_order_id)
            if found is not None:
                log.info("adopted existing broker order %s for %s", found.id, client_order_id)
                return found
            if step is _Step.LOOK_UP:
                # proven absent; should the first request still land, the broker refuses this
                # one as a duplicate and we adopt: either way one order
                step = _Step.SUBMIT
                failures = 0
                continue
            last_error = BrokerUnavailable(
                f"broker reports {client_order_id} as a duplicate but the lookup finds none"
            )
            delay = None
        except DuplicateClientOrderId as exc:
            last_error, step = exc, _Step.ADOPT
            continue  # adopt right away: nothing to wait for
        except RateLimited as exc:
            last_error, delay = exc, exc.retry_after
            if delay is not None and delay > policy.max_retry_after:
                raise
        except BrokerUnavailable as exc:
            last_error, delay = exc, None
            if step is _Step.SUBMIT:
                step = _Step.LOOK_UP
        failures += 1
        if attempt == policy.max_attempts:
            break
        wait = delay if delay is not None else backoff_delay(policy, failures, random_fraction())
        log.warning(
            "broker %s for %s failed (attempt %d/%d): %s; next: %s in %.2fs",
            tried,
            client_order_id,
            attempt,
            policy.max_attempts,
            type(last_error).__name__,
            step,
            wait,
        )
        await sleep(wait)
    assert last_error is not None  # the loop only ends early after recording a failure
    raise last_error
