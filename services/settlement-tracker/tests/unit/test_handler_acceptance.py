"""The handlers' side of the consumer checks: refused facts are dead-lettered with the reason and
counted, as they arrive or, for facts that came before the plan, when the plan arrives."""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime, time
from decimal import Decimal

import pytest
from pydantic import ValidationError

from rebal_schemas import (
    BrokerIntegration,
    CloseReason,
    MessageDeadLettered,
    OrderSide,
    PlannedOrder,
    RunStatus,
    encode,
)
from rebal_settlement_tracker.adapters.run_document import EARLY_LETTERS, RUNS
from rebal_settlement_tracker.domain import AcceptancePolicy
from rebal_settlement_tracker.service_layer.provenance import FactRejectedMessage, Provenance
from rebal_settlement_tracker.settings import SettlementSettings

WEDNESDAY = date(2026, 3, 4)


def market_time(day: date, hour: int = 15, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=UTC)


SPY = PlannedOrder(
    leg=0, symbol="SPY", side=OrderSide.buy, qty=Decimal(15), expected_price=Decimal("580.00")
)
SIGNED = AcceptancePolicy(platform_signer="order-router")
ROUTER = Provenance(signer="order-router")
FORGED = Provenance(signature="bad signature claiming 'order-router'")


def letters(h) -> list[MessageDeadLettered]:  # type: ignore[no-untyped-def]
    return [e for e in h.published() if isinstance(e, MessageDeadLettered)]


async def test_forged_fills_before_the_real_ones_do_not_reach_run_completed(
    harness, run_events
) -> None:
    """The attack: +1,000 SPY forged before the broker's 15, all before the plan."""
    h = harness(market_time(WEDNESDAY, 16), cycle_days=0, acceptance=SIGNED)
    events = run_events(orders=(SPY,))
    forged = events.filled(0, "1000", "580.00", WEDNESDAY, final=True)
    real = events.filled(0, "15", "580.20", WEDNESDAY, final=True)
    await h.handle(forged, FORGED)
    await h.handle(real, ROUTER)
    assert h.completed() == [] and letters(h) == []

    await h.handle(events.ready())

    [completed] = h.completed()
    assert completed.status is RunStatus.COMPLETED_SUCCESS
    assert completed.holdings_delta == {"SPY": Decimal(15)}
    assert [o.filled_qty for o in completed.orders] == [Decimal(15)]
    [letter] = letters(h)
    assert base64.b64decode(letter.original_value_b64) == encode(forged)
    assert letter.error_type == "FactRejectedMessage"
    assert letter.reason.startswith("not_signed_by_platform: ")
    assert "must be signed by order-router: bad signature claiming 'order-router'" in letter.reason
    assert letter.correlation_id == events.run_id
    doc = await h.store.load(RUNS, events.run_id)
    assert doc is not None
    assert doc.state["rejected_facts"] == 1 and EARLY_LETTERS not in doc.state
    assert doc.state["rejections"][0]["event_id"] == forged.event_id
    assert h.handlers.rejected == {"not_signed_by_platform": 1}


async def test_forged_overfill_before_the_plan_is_refused_on_acls_alone(
    harness, run_events
) -> None:
    h = harness(market_time(WEDNESDAY, 16), cycle_days=0)  # no trusted signers
    events = run_events(orders=(SPY,))
    await h.handle(events.filled(0, "1000", "580.00", WEDNESDAY))
    await h.handle(events.filled(0, "15", "580.20", WEDNESDAY))
    await h.handle(events.ready())
    [completed] = h.completed()
    assert completed.holdings_delta == {"SPY": Decimal(15)}
    [letter] = letters(h)
    assert "quantity_above_order" in letter.reason and letter.partition == -1
    assert h.handlers.rejected == {"quantity_above_order": 1}


async def test_unsigned_platform_fill_is_dead_lettered_and_counted(harness, run_events) -> None:
    h = harness(market_time(WEDNESDAY, 16), cycle_days=0, acceptance=SIGNED)
    events = run_events(orders=(SPY,))
    await h.handle(events.ready())
    with pytest.raises(FactRejectedMessage, match="must be signed by order-router: no signature"):
        await h.handle(events.filled(0, "15", "580", WEDNESDAY))
    with pytest.raises(FactRejectedMessage, match="not_signed_by_platform"):
        await h.handle(events.closed(0, CloseReason.expired, market_time(WEDNESDAY, 17)))
    assert h.handlers.rejected == {"not_signed_by_platform": 2}
    assert h.completed() == []
    await h.handle(events.filled(0, "15", "580", WEDNESDAY), ROUTER)
    [completed] = h.completed()
    assert completed.holdings_delta == {"SPY": Decimal(15)}


async def test_client_fill_is_accepted_unsigned(harness, run_events) -> None:
    h = harness(market_time(WEDNESDAY, 16), cycle_days=0, acceptance=SIGNED)
    events = run_events(orders=(SPY,), broker_integration=BrokerIntegration.CLIENT)
    await h.handle(events.filled(0, "5", "580", WEDNESDAY, final=False, producer="middleware"))
    await h.handle(events.ready())
    await h.handle(events.filled(0, "15", "580", WEDNESDAY, producer="middleware"))
    [completed] = h.completed()
    assert completed.status is RunStatus.COMPLETED_SUCCESS and letters(h) == []
    assert not h.handlers.rejected


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"symbol": "QQQ"}, "symbol_or_side_mismatch"),
        ({"side": OrderSide.sell}, "symbol_or_side_mismatch"),
        ({"filled_qty": Decimal(16)}, "quantity_above_order"),
        ({"filled_avg_price": Decimal("700")}, "price_out_of_band"),
    ],
)
async def test_fills_failing_a_check_are_refused_live_and_at_plan_time(
    harness, run_events, overrides, code
) -> None:
    h = harness(market_time(WEDNESDAY, 16), cycle_days=0)
    events = run_events(orders=(SPY,))
    bad = events.filled(0, "15", "580", WEDNESDAY, **overrides)
    await h.handle(bad)  # before the plan: kept
    await h.handle(events.ready())
    [letter] = letters(h)
    assert letter.reason.startswith(code)
    with pytest.raises(FactRejectedMessage, match=code):
        await h.handle(events.filled(0, "15", "580", WEDNESDAY, **overrides))
    assert h.handlers.rejected == {code: 2}
    run = await h.run(events.run_id)
    assert run.transactions[0].filled_qty == 0 and len(run.rejections) == 1


async def test_notional_overfill_is_refused(harness, run_events) -> None:
    h = harness(market_time(WEDNESDAY, 16), cycle_days=0)
    vti = PlannedOrder(leg=0, symbol="VTI", side=OrderSide.buy, notional=Decimal("1000.00"))
    events = run_events(orders=(vti,))
    await h.handle(events.ready())
    with pytest.raises(FactRejectedMessage, match="notional_above_order"):
        await h.handle(events.filled(0, "5", "250", WEDNESDAY))
    await h.handle(events.filled(0, "4.01", "250", WEDNESDAY))  # 1002.50: within 2%
    [completed] = h.completed()
    assert completed.holdings_delta == {"VTI": Decimal("4.01")}


async def test_a_fact_letter_keeps_the_records_coordinates(harness, run_events) -> None:
    h = harness(market_time(WEDNESDAY, 16), cycle_days=0, acceptance=SIGNED)
    events = run_events(orders=(SPY,))
    forged = events.filled(0, "15", "580", WEDNESDAY)
    record = MessageDeadLettered(
        event_id="dl-record",
        producer="settlement-tracker",
        original_topic="order.filled",
        partition=3,
        offset=42,
        key=events.portfolio_id,
        original_value_b64=base64.b64encode(b"the original bytes").decode(),
        original_headers={"event_id": forged.event_id},
        consumer_group="settlement-tracker",
        error_type="FactRejectedMessage",
        reason="",
        failed_at=market_time(WEDNESDAY, 15),
    )
    await h.handle(forged, Provenance(letter=record))
    doc = await h.store.load(RUNS, events.run_id)
    assert doc is not None and forged.event_id in doc.state[EARLY_LETTERS]
    await h.handle(events.ready())
    [letter] = letters(h)
    assert (letter.event_id, letter.partition, letter.offset) == ("dl-record", 3, 42)
    assert base64.b64decode(letter.original_value_b64) == b"the original bytes"
    assert letter.failed_at == market_time(WEDNESDAY, 16) and letter.reason


def test_settings_choose_signatures_or_acls_alone() -> None:
    acls = SettlementSettings().acceptance()
    assert acls.platform_signer is None
    assert acls.notional_tolerance == Decimal("0.02") and acls.price_band == Decimal("0.10")
    signed = SettlementSettings(trusted_signers="order-router=k").acceptance()  # type: ignore[arg-type]
    assert signed.platform_signer == "order-router"
    with pytest.raises(ValidationError, match="no key for 'order-router'"):
        SettlementSettings(trusted_signers="optimizer=k")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        SettlementSettings(fill_price_band=Decimal(1))


async def test_an_early_facts_letter_is_bounded_in_the_run_document(harness, run_events) -> None:
    h = harness(market_time(WEDNESDAY, 16), cycle_days=0)
    events = run_events(orders=(SPY,))
    forged = events.filled(0, "1000", "580", WEDNESDAY)
    padded = b"x" * 100_000
    record = MessageDeadLettered(
        event_id="dl-padded",
        producer="settlement-tracker",
        original_topic="order.filled",
        partition=0,
        offset=7,
        original_value_b64=base64.b64encode(padded).decode(),
        original_size=len(padded),
        original_headers={f"h{n}": "v" * 1000 for n in range(64)},
        consumer_group="settlement-tracker",
        error_type="FactRejectedMessage",
        reason="",
        failed_at=market_time(WEDNESDAY, 15),
    )
    await h.handle(forged, Provenance(letter=record))
    await h.handle(events.ready())
    [letter] = letters(h)
    assert letter.truncated and letter.original_size == len(padded)
    assert len(base64.b64decode(letter.original_value_b64)) == 8192
    assert len(letter.original_headers) == 16
    assert {len(v) for v in letter.original_headers.values()} == {256}
