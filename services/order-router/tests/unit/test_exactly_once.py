"""submit_exactly_once over the real Alpaca client and a scripted fake broker: the same order
never reaches the broker twice, whatever fails in between."""

from __future__ import annotations

from decimal import Decimal

import pytest

from rebal_order_router.domain import (
    BrokerUnavailable,
    OrderRejected,
    OrderSide,
    RateLimited,
    RetryPolicy,
)
from rebal_order_router.service_layer.exactly_once import backoff_delay, submit_exactly_once

COID = "rebal-run1-001.buy.VTI"
POLICY = RetryPolicy(max_attempts=5, base_delay=0.5, max_delay=4.0, jitter=0.5)


async def submit(client, fake, sleep, policy: RetryPolicy = POLICY):
    return await submit_exactly_once(
        client,
        fake.account,
        COID,
        "VTI",
        OrderSide.BUY,
        notional=Decimal("500.00"),
        policy=policy,
        sleep=sleep,
        random_fraction=lambda: 0.0,  # no jitter: waits are exact
    )


def posts(fake) -> int:
    return len(fake.calls("POST"))


async def test_success_first_time(alpaca_client, fake_alpaca, recording_sleep) -> None:
    order = await submit(alpaca_client, fake_alpaca, recording_sleep)
    assert order.client_order_id == COID
    assert posts(fake_alpaca) == 1
    assert fake_alpaca.calls("GET") == []
    assert recording_sleep.waits == []


async def test_duplicate_is_adopted(alpaca_client, fake_alpaca, recording_sleep) -> None:
    first = await submit(alpaca_client, fake_alpaca, recording_sleep)  # e.g. before a crash

    adopted = await submit(alpaca_client, fake_alpaca, recording_sleep)  # after the restart

    assert adopted.id == first.id
    assert posts(fake_alpaca) == 2  # the second POST was refused as a duplicate
    assert len(fake_alpaca.orders) == 1
    assert len(fake_alpaca.calls("GET")) == 1
    assert recording_sleep.waits == []


async def test_timeout_then_lookup_finds_the_order_so_no_second_submit(
    alpaca_client, fake_alpaca, recording_sleep
) -> None:
    fake_alpaca.fail_next("POST", lost_reply=True)

    order = await submit(alpaca_client, fake_alpaca, recording_sleep)

    assert posts(fake_alpaca) == 1
    assert [r.method for r in fake_alpaca.requests] == ["POST", "GET"]
    assert order.id == fake_alpaca.orders[COID]["id"]
    assert recording_sleep.waits == [0.5]


async def test_timeout_before_the_broker_saw_it_then_lookup_misses_then_resubmit(
    alpaca_client, fake_alpaca, recording_sleep
) -> None:
    fake_alpaca.fail_next("POST", dropped=True)

    order = await submit(alpaca_client, fake_alpaca, recording_sleep)

    assert [r.method for r in fake_alpaca.requests] == ["POST", "GET", "POST"]
    assert len(fake_alpaca.orders) == 1
    assert order.client_order_id == COID
    assert recording_sleep.waits == [0.5]  # the lookup proved absence: resubmit at once


async def test_503_then_success(alpaca_client, fake_alpaca, recording_sleep) -> None:
    fake_alpaca.fail_next("POST", 503, {"message": "unavailable"})

    order = await submit(alpaca_client, fake_alpaca, recording_sleep)

    assert order.client_order_id == COID
    # a 5xx is ambiguous too (a gateway may have forwarded it): looked up before resubmitting
    assert [r.method for r in fake_alpaca.requests] == ["POST", "GET", "POST"]
    assert len(fake_alpaca.orders) == 1


async def test_429_waits_retry_after_and_resubmits_without_lookup(
    alpaca_client, fake_alpaca, recording_sleep
) -> None:
    fake_alpaca.fail_next("POST", 429, {"message": "rate limit"}, {"Retry-After": "7"})

    await submit(alpaca_client, fake_alpaca, recording_sleep)

    assert recording_sleep.waits == [7.0]
    assert [r.method for r in fake_alpaca.requests] == ["POST", "POST"]


async def test_429_without_retry_after_backs_off(
    alpaca_client, fake_alpaca, recording_sleep
) -> None:
    fake_alpaca.fail_next("POST", 429, {"message": "rate limit"})
    fake_alpaca.fail_next("POST", 429, {"message": "rate limit"})
    await submit(alpaca_client, fake_alpaca, recording_sleep)
    assert recording_sleep.waits == [0.5, 1.0]


async def test_too_long_retry_after_goes_back_to_the_caller(
    alpaca_client, fake_alpaca, recording_sleep
) -> None:
    fake_alpaca.fail_next("POST", 429, {"message": "later"}, {"Retry-After": "3600"})
    with pytest.raises(RateLimited) as caught:
        await submit(alpaca_client, fake_alpaca, recording_sleep)
    assert caught.value.retry_after == 3600.0
    assert recording_sleep.waits == []


async def test_permanent_rejection_is_not_retried(
    alpaca_client, fake_alpaca, recording_sleep
) -> None:
    fake_alpaca.fail_next("POST", 403, {"code": 40310000, "message": "insufficient buying power"})
    with pytest.raises(OrderRejected, match="buying power"):
        await submit(alpaca_client, fake_alpaca, recording_sleep)
    assert posts(fake_alpaca) == 1
    assert recording_sleep.waits == []


async def test_failed_lookups_are_retried_not_replaced_by_a_submit(
    alpaca_client, fake_alpaca, recording_sleep
) -> None:
    fake_alpaca.fail_next("POST", lost_reply=True)
    fake_alpaca.fail_next("GET", 503, {"message": "down"})
    # A GET whose kept-alive connection is closed under it is sent again once by aiohttp
    # itself, on a new connection: two hang-ups make one failed lookup.
    fake_alpaca.fail_next("GET", dropped=True)
    fake_alpaca.fail_next("GET", dropped=True)

    order = await submit(alpaca_client, fake_alpaca, recording_sleep)

    assert [r.method for r in fake_alpaca.requests] == ["POST", "GET", "GET", "GET", "GET"]
    assert order.client_order_id == COID
    assert recording_sleep.waits == [0.5, 1.0, 2.0]


async def test_gives_up_after_max_attempts_with_bounded_waits(
    alpaca_client, fake_alpaca, recording_sleep
) -> None:
    for _ in range(10):
        fake_alpaca.fail_next("POST", 503)
        fake_alpaca.fail_next("GET", 503)

    with pytest.raises(BrokerUnavailable):
        await submit(alpaca_client, fake_alpaca, recording_sleep)

    assert len(fake_alpaca.requests) == POLICY.max_attempts
    assert posts(fake_alpaca) == 1  # never resubmitted without a successful lookup
    assert recording_sleep.waits == [0.5, 1.0, 2.0, 4.0]  # capped at max_delay


async def test_duplicate_whose_lookup_misses_never_resubmits(
    alpaca_client, fake_alpaca, recording_sleep
) -> None:
    fake_alpaca.fail_next(
        "POST", 422, {"code": 42210000, "message": "client_order_id must be unique"}
    )
    for _ in range(10):
        fake_alpaca.fail_next("GET", 404, {"message": "order not found"})

    with pytest.raises(BrokerUnavailable, match="duplicate"):
        await submit(alpaca_client, fake_alpaca, recording_sleep)

    assert posts(fake_alpaca) == 1
    assert len(fake_alpaca.calls("GET")) == POLICY.max_attempts - 1


def test_backoff_is_exponential_capped_and_jittered_within_bounds() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=4.0, jitter=0.5)
    no_jitter = [backoff_delay(policy, n, 0.0) for n in range(1, 7)]
    assert no_jitter == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    for n in range(1, 7):
        assert backoff_delay(policy, n, 1.0) == pytest.approx(no_jitter[n - 1] / 2)
    assert backoff_delay(policy, 10_000, 0.0) == 4.0  # no overflow on huge counts
    with pytest.raises(ValueError, match="failures"):
        backoff_delay(policy, 0, 0.5)
    with pytest.raises(ValueError, match="jitter"):
        RetryPolicy(jitter=1.5)
