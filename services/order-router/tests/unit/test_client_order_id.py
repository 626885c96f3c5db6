"""client_order_id: deterministic, <= 128 characters, and never shared by two (run, leg) pairs."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rebal_order_router.domain import (
    MAX_CLIENT_ORDER_ID_LENGTH,
    OrderSide,
    client_order_id,
    is_rebal_client_order_id,
    is_valid_leg,
    leg_id,
)

ULID = "01HZX3K4Q5R6S7T8V9W0XYZABC"
legs = st.from_regex(r"[A-Za-z0-9._]{1,48}", fullmatch=True)
run_ids = st.text(min_size=1, max_size=300)


def test_readable_form_for_an_ordinary_run_id() -> None:
    assert client_order_id(ULID, "000.sell.AAPL") == f"rebal-{ULID}-000.sell.AAPL"


def test_same_inputs_give_the_same_id() -> None:
    long_run = "x" * 500
    assert client_order_id(long_run, "001.buy.MSFT") == client_order_id(long_run, "001.buy.MSFT")


def test_long_run_id_is_hashed_and_fits() -> None:
    long_run = "run-" + "y" * 200
    value = client_order_id(long_run, "001.buy.MSFT")
    digest = hashlib.sha256(long_run.encode()).hexdigest()[:40]
    assert value == f"rebalh-h{digest}-001.buy.MSFT"
    assert len(value) <= MAX_CLIENT_ORDER_ID_LENGTH


def test_run_id_with_unsafe_characters_is_hashed() -> None:
    assert client_order_id("run/with spaces", "0").startswith("rebalh-h")


@pytest.mark.parametrize("leg", ["", "sell-AAPL", "a/b", "x" * 49, "é"])
def test_invalid_leg_is_refused(leg: str) -> None:
    with pytest.raises(ValueError, match="leg"):
        client_order_id(ULID, leg)


def test_empty_run_id_is_refused() -> None:
    with pytest.raises(ValueError, match="run_id"):
        client_order_id("", "0")


@settings(max_examples=200, deadline=None)
@given(run_ids, legs)
def test_always_within_alpaca_limit_and_recognisable(run_id: str, leg: str) -> None:
    value = client_order_id(run_id, leg)
    assert len(value) <= MAX_CLIENT_ORDER_ID_LENGTH
    assert value.endswith(f"-{leg}")
    assert is_rebal_client_order_id(value)
    assert value == client_order_id(run_id, leg)


@settings(max_examples=200, deadline=None)
@given(run_ids, legs, run_ids, legs)
def test_distinct_pairs_never_share_an_id(run_a: str, leg_a: str, run_b: str, leg_b: str) -> None:
    if (run_a, leg_a) != (run_b, leg_b):
        assert client_order_id(run_a, leg_a) != client_order_id(run_b, leg_b)


def test_separator_inside_run_ids_does_not_collide() -> None:
    # UUID-style run ids contain "-": the leg is always what follows the last "-".
    assert client_order_id("a-b", "c") != client_order_id("a", "b.c")
    assert client_order_id("a-b", "c") == "rebal-a-b-c"


def test_leg_id_is_a_valid_unique_leg() -> None:
    first = leg_id(3, OrderSide.SELL, "BRK.B")
    assert first == "003.sell.BRK.B"
    crypto_a = leg_id(4, OrderSide.BUY, "BTC/USD")
    crypto_b = leg_id(5, OrderSide.BUY, "BTC-USD")
    assert crypto_a == "004.buy.BTC_USD"
    assert crypto_a != crypto_b
    assert all(is_valid_leg(x) for x in (first, crypto_a, crypto_b))
    assert is_valid_leg(leg_id(123456, OrderSide.SELL, "S" * 100))
    with pytest.raises(ValueError, match="index"):
        leg_id(-1, OrderSide.BUY, "AAPL")


def test_foreign_client_order_ids_are_not_ours() -> None:
    assert not is_rebal_client_order_id("my-own-order-1")
    assert not is_rebal_client_order_id("rebalance-1")
