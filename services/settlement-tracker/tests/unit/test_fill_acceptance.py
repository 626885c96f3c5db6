"""The consumer checks of the Run aggregate: provenance, order identity, quantity, price.

A fact that fails a check is refused (FactRejected) when the plan is known, and refused when the
plan arrives when it came first (recorded in `rejections`), without swallowing the real ones.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from rebal_settlement_tracker.domain import (
    MAX_PENDING,
    AcceptancePolicy,
    DuplicateFill,
    FactRejected,
    FactSource,
    PlannedOrder,
    RejectCode,
    Run,
    RunTerms,
    Side,
    TransactionStatus,
    UnknownLeg,
)

from .run_builders import FRIDAY, at

SPY = PlannedOrder(0, "SPY", Side.BUY, qty=Decimal(15), expected_price=Decimal("500.00"))
VTI = PlannedOrder(1, "VTI", Side.BUY, notional=Decimal("1000.00"), expected_price=Decimal(250))
SIGNED = AcceptancePolicy(platform_signer="order-router")
ROUTER = FactSource(symbol="SPY", side=Side.BUY, signer="order-router")
UNSIGNED = FactSource(symbol="SPY", side=Side.BUY)


def plan(run: Run, *, integration: str = "PLATFORM", policy: AcceptancePolicy | None = None) -> Run:
    terms = RunTerms(run_type="full_rebalance", broker_integration=integration, account_id="a-1")
    return run.plan([SPY, VTI], (), terms, policy=policy or AcceptancePolicy())


def fill(
    run: Run,
    leg: int,
    cum: str,
    price: str,
    source: FactSource | None = None,
    *,
    policy: AcceptancePolicy | None = None,
    minutes: int = 1,
) -> Run:
    return run.record_fill(
        leg,
        Decimal(cum),
        Decimal(price),
        FRIDAY,
        at(minutes),
        fully_filled=True,
        source=source,
        policy=policy or AcceptancePolicy(),
    )


def refused(action: object, code: RejectCode) -> None:
    assert callable(action)
    with pytest.raises(FactRejected) as failure:
        action()
    assert failure.value.code is code


def completed_spy(run: Run) -> Decimal:
    run = fill(run, 1, "4", "250", FactSource(symbol="VTI", side=Side.BUY, signer="order-router"))
    completion = run.completion()
    assert completion is not None
    return next(o.filled_qty for o in completion.orders if o.symbol == "SPY")


# ---- the attack: forged fills before the real ones -----------------------------------------


def test_forged_fill_before_the_plan_is_discarded_and_the_real_one_counts() -> None:
    early = Run("O1", "pf-1")
    early = fill(early, 0, "1000", "500", UNSIGNED, minutes=1)  # forged, first
    early = fill(early, 0, "15", "500.10", ROUTER, minutes=2)  # the broker's real fill
    assert len(early.pending) == 2 and not early.fills
    run = plan(early, policy=SIGNED)
    [rejection] = run.rejections
    assert rejection.code is RejectCode.NOT_SIGNED
    assert run.transactions[0].filled_qty == Decimal(15)
    assert completed_spy(run) == Decimal(15)


def test_forged_overfill_before_the_plan_is_discarded_on_acls_alone_too() -> None:
    early = fill(Run("O1", "pf-1"), 0, "1000", "500", UNSIGNED, minutes=1)
    early = fill(early, 0, "15", "500.10", UNSIGNED, minutes=2)
    run = plan(early)  # no signer required: the quantity check still holds
    assert [r.code for r in run.rejections] == [RejectCode.ABOVE_QTY]
    assert "cumulative quantity 1000 is above the order's 15" in run.rejections[0].detail
    assert completed_spy(run) == Decimal(15)


def test_forged_overfill_after_the_plan_is_refused() -> None:
    run = plan(Run("O1", "pf-1"))
    refused(lambda: fill(run, 0, "1000", "500", UNSIGNED), RejectCode.ABOVE_QTY)
    assert fill(run, 0, "15", "500", UNSIGNED).transactions[0].filled_qty == Decimal(15)


# ---- provenance ------------------------------------------------------------------------------


def test_unsigned_platform_fill_is_refused_when_signers_are_configured() -> None:
    run = plan(Run("O1", "pf-1"), policy=SIGNED)
    refused(lambda: fill(run, 0, "15", "500", UNSIGNED, policy=SIGNED), RejectCode.NOT_SIGNED)
    refused(lambda: fill(run, 0, "15", "500", None, policy=SIGNED), RejectCode.NOT_SIGNED)
    other = FactSource(symbol="SPY", side=Side.BUY, signer="optimizer")
    refused(lambda: fill(run, 0, "15", "500", other, policy=SIGNED), RejectCode.NOT_SIGNED)
    bad = FactSource(symbol="SPY", side=Side.BUY, signature="bad signature claiming 'x'")
    with pytest.raises(FactRejected, match="bad signature claiming 'x'"):
        fill(run, 0, "15", "500", bad, policy=SIGNED)
    assert fill(run, 0, "15", "500", ROUTER, policy=SIGNED).transactions[0].filled_qty == 15


def test_unsigned_platform_fill_is_accepted_on_acls_alone() -> None:
    run = plan(Run("O1", "pf-1"))
    assert fill(run, 0, "15", "500", UNSIGNED).transactions[0].filled_qty == Decimal(15)


def test_client_fill_is_accepted_unsigned_even_when_signers_are_configured() -> None:
    run = plan(Run("O1", "pf-1"), integration="CLIENT", policy=SIGNED)
    assert fill(run, 0, "15", "500", UNSIGNED, policy=SIGNED).transactions[0].filled_qty == 15
    early = plan(fill(Run("O2", "pf-2"), 0, "15", "500", UNSIGNED), integration="CLIENT")
    assert early.rejections == () and early.transactions[0].filled_qty == Decimal(15)


def test_unsigned_close_of_a_platform_run_is_refused_when_signers_are_configured() -> None:
    from rebal_settlement_tracker.domain import CloseReason

    run = plan(Run("O1", "pf-1"), policy=SIGNED)

    def close(source: FactSource) -> Run:
        return run.record_close(
            0, CloseReason.EXPIRED, Decimal(0), at(5), source=source, policy=SIGNED
        )

    refused(lambda: close(UNSIGNED), RejectCode.NOT_SIGNED)
    assert close(ROUTER).transactions[0].status is TransactionStatus.EXPIRED


# ---- order identity ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        FactSource(symbol="QQQ", side=Side.BUY, signer="order-router"),
        FactSource(symbol="SPY", side=Side.SELL, signer="order-router"),
    ],
)
def test_fill_for_another_symbol_or_side_is_refused(source: FactSource) -> None:
    run = plan(Run("O1", "pf-1"))
    with pytest.raises(FactRejected, match="plan has buy SPY") as failure:
        fill(run, 0, "15", "500", source)
    assert failure.value.code is RejectCode.WRONG_ORDER
    early = plan(fill(Run("O2", "pf-2"), 0, "15", "500", source))
    assert [r.code for r in early.rejections] == [RejectCode.WRONG_ORDER]
    assert early.transactions[0].status is TransactionStatus.PLANNED


def test_fill_for_a_leg_outside_the_plan_is_refused() -> None:
    with pytest.raises(UnknownLeg):
        fill(plan(Run("O1", "pf-1")), 5, "1", "500", UNSIGNED)


# ---- quantity and notional -------------------------------------------------------------------


def test_notional_overfill_is_refused_beyond_the_tolerance() -> None:
    run = plan(Run("O1", "pf-1"))
    vti = FactSource(symbol="VTI", side=Side.BUY)
    # 1000.00 notional, 2% tolerance: up to 1020.00 of value
    assert fill(run, 1, "4.08", "250", vti).transactions[1].filled_qty == Decimal("4.08")
    with pytest.raises(
        FactRejected, match=r"filled value 1020\.25\d* is above the notional 1000\.00 \+2%"
    ) as failure:
        fill(run, 1, "4.081", "250", vti)
    assert failure.value.code is RejectCode.ABOVE_NOTIONAL
    loose = AcceptancePolicy(notional_tolerance=Decimal("0.05"))
    assert fill(run, 1, "4.081", "250", vti, policy=loose).transactions[1].is_fully_executed


def test_close_reporting_more_than_a_notional_buys_is_refused() -> None:
    from rebal_settlement_tracker.domain import CloseReason

    run = plan(Run("O1", "pf-1"))
    vti = FactSource(symbol="VTI", side=Side.BUY)
    # at most 1020.00 / (250 x 0.9) = 4.533.. shares even at the lowest price of the band
    ok = run.record_close(1, CloseReason.EXPIRED, Decimal("4.5"), at(5), source=vti)
    assert ok.closes[1].cum_qty == Decimal("4.5")
    with pytest.raises(FactRejected) as failure:
        run.record_close(1, CloseReason.EXPIRED, Decimal("4.6"), at(5), source=vti)
    assert failure.value.code is RejectCode.ABOVE_NOTIONAL
    with pytest.raises(FactRejected) as above_qty:
        run.record_close(0, CloseReason.EXPIRED, Decimal(16), at(5), source=UNSIGNED)
    assert above_qty.value.code is RejectCode.ABOVE_QTY


# ---- price band ------------------------------------------------------------------------------


@pytest.mark.parametrize(("price", "accepted"), [("450", True), ("550", True), ("449.99", False)])
def test_fill_price_must_lie_within_the_band_of_the_planned_price(
    price: str, accepted: bool
) -> None:
    run = plan(Run("O1", "pf-1"))
    if accepted:
        assert fill(run, 0, "15", price, UNSIGNED).transactions[0].avg_price == Decimal(price)
        return
    with pytest.raises(FactRejected, match=r"more than 10% away from the planned 500\.00"):
        fill(run, 0, "15", price, UNSIGNED)
    early = plan(fill(Run("O2", "pf-2"), 0, "15", price, UNSIGNED))
    assert [r.code for r in early.rejections] == [RejectCode.PRICE_OUT_OF_BAND]


def test_without_a_planned_price_the_band_is_not_checked() -> None:
    unpriced = PlannedOrder(0, "SPY", Side.BUY, qty=Decimal(15))
    run = Run("O1", "pf-1").plan([unpriced], (), RunTerms(broker_integration="PLATFORM"))
    assert fill(run, 0, "15", "5000", UNSIGNED).transactions[0].filled_qty == Decimal(15)


# ---- facts before the plan ---------------------------------------------------------------------


def test_early_replay_is_a_duplicate_and_early_facts_are_bounded() -> None:
    early = fill(Run("O1", "pf-1"), 0, "1", "500", UNSIGNED)
    replay = FactSource(event_id="another-id", symbol="SPY", side=Side.BUY)
    with pytest.raises(DuplicateFill):
        fill(early, 0, "1", "500", replay)
    run = Run("O2", "pf-2")
    for n in range(MAX_PENDING):
        run = fill(run, 0, str(n + 1), "500", UNSIGNED)
    with pytest.raises(FactRejected) as failure:
        fill(run, 0, "1000", "500", UNSIGNED)
    assert failure.value.code is RejectCode.TOO_MANY_EARLY


def test_the_plan_keeps_its_earlier_rejections_and_facts_judged_alone() -> None:
    early = fill(Run("O1", "pf-1"), 0, "1000", "500", ROUTER, minutes=1)
    early = fill(early, 0, "10", "500", ROUTER, minutes=2)
    early = fill(early, 0, "12", "700", ROUTER, minutes=3)  # out of band
    run = plan(early, policy=SIGNED)
    assert [r.code for r in run.rejections] == [RejectCode.ABOVE_QTY, RejectCode.PRICE_OUT_OF_BAND]
    assert run.pending == () and run.transactions[0].filled_qty == Decimal(10)
