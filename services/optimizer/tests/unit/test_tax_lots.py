"""Tax lots (domain/lots.py, lot_selection.py, lot_ledger.py): lots from fills and snapshots,
each lot policy's order on worked examples, realized gain = proceeds - consumed cost, and the
invariants (hypothesis): quantities conserve and the lots always match the holdings."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rebal_optimizer.adapters.portfolio_document import record_from_document, record_to_document
from rebal_optimizer.domain import (
    InvalidSettings,
    Portfolio,
    PortfolioAccount,
    PortfolioSettings,
    RunResult,
    RunType,
    Side,
    run_completed,
)
from rebal_optimizer.domain.lot_ledger import Fill
from rebal_optimizer.domain.lot_selection import select_lots
from rebal_optimizer.domain.lots import (
    Lot,
    RealizedGain,
    from_snapshot,
    realized_gain,
    reconciled,
    total_qty,
)
from rebal_optimizer.domain.tax_policy import LotPolicy

SOLD_ON = date(2026, 6, 1)
OLD = date(2025, 1, 2)  # more than a year before SOLD_ON: long-term
RECENT = date(2026, 3, 2)  # short-term

LOTS = (
    Lot(D(10), D(50), OLD),  # long-term gain of 50/share at 100
    Lot(D(10), D(120), date(2025, 3, 3)),  # long-term loss of 20/share
    Lot(D(10), D(90), RECENT),  # short-term gain of 10/share
    Lot(D(10), D(130), date(2026, 4, 1)),  # short-term loss of 30/share
    Lot(D(10), D(80), date(2025, 2, 3)),  # long-term gain of 20/share
)


def consumed_costs(policy: LotPolicy, qty: str, price: str = "100") -> list[D]:
    _, takes = select_lots(LOTS, D(qty), policy, D(price), SOLD_ON)
    return [t.cost_per_share for t in takes]


def test_fifo_sells_the_oldest_lots_first() -> None:
    assert consumed_costs(LotPolicy.FIFO, "50") == [D(50), D(80), D(120), D(90), D(130)]


def test_hifo_sells_the_dearest_lots_first() -> None:
    assert consumed_costs(LotPolicy.HIFO, "50") == [D(130), D(120), D(90), D(80), D(50)]


def test_tax_min_sells_losses_largest_first_then_long_term_then_short_term_gains() -> None:
    # losses: -30 (short) then -20 (long); long-term gains: 20 then 50; short-term gain last
    assert consumed_costs(LotPolicy.TAX_MIN, "50") == [D(130), D(120), D(80), D(50), D(90)]


def test_tax_min_prefers_a_long_term_gain_to_a_smaller_short_term_one() -> None:
    lots = (Lot(D(1), D(99), RECENT), Lot(D(1), D(60), OLD))  # +1 short vs +40 long
    _, takes = select_lots(lots, D(1), LotPolicy.TAX_MIN, D(100), SOLD_ON)
    assert [t.acquired_on for t in takes] == [OLD] and takes[0].long_term


def test_a_partial_lot_is_split_and_what_is_left_keeps_its_order() -> None:
    left, takes = select_lots(LOTS, D(15), LotPolicy.FIFO, D(100), SOLD_ON)
    assert [(t.qty, t.cost_per_share) for t in takes] == [(D(10), D(50)), (D(5), D(80))]
    assert left[-1] == Lot(D(5), D(80), date(2025, 2, 3))
    assert total_qty(left) == D(35)


def test_realized_gain_splits_short_and_long_term() -> None:
    _, takes = select_lots(LOTS, D(30), LotPolicy.FIFO, D(100), SOLD_ON)
    # FIFO: 10 @50 (long +500), 10 @80 (long +200), 10 @120 (long -200)
    assert realized_gain(takes, D(100)) == RealizedGain(D("0.00"), D("500.00"))
    _, takes = select_lots(LOTS, D(50), LotPolicy.FIFO, D(100), SOLD_ON)
    assert realized_gain(takes, D(100)) == RealizedGain(D("-200.00"), D("500.00"))


def test_held_exactly_a_year_is_still_short_term() -> None:
    lots = (Lot(D(1), D(10), SOLD_ON - timedelta(days=365)),)
    _, takes = select_lots(lots, D(1), LotPolicy.FIFO, D(20), SOLD_ON)
    assert not takes[0].long_term
    _, takes = select_lots(
        (Lot(D(1), D(10), SOLD_ON - timedelta(days=366)),), D(1), LotPolicy.FIFO, D(20), SOLD_ON
    )
    assert takes[0].long_term


def test_reconciled_adds_an_estimated_lot_at_the_average_cost_and_trims_the_oldest() -> None:
    lots = {"A": (Lot(D(1), D(10), OLD), Lot(D(3), D(20), RECENT)), "B": (Lot(D(2), D(5), OLD),)}
    out = reconciled(lots, {"A": D(6), "B": D(1), "C": D(2)}, {"C": D(7)}, SOLD_ON)
    assert out["A"][-1] == Lot(D(2), D("17.5"), SOLD_ON, estimated=True)
    assert out["B"] == (Lot(D(1), D(5), OLD),)
    assert out["C"] == (Lot(D(2), D(7), SOLD_ON, estimated=True),)


def test_a_snapshot_without_lots_keeps_one_estimated_lot_at_the_average_cost() -> None:
    known = {"A": (Lot(D(1), D(10), OLD), Lot(D(1), D(30), RECENT)), "B": (Lot(D(4), D(2), OLD),)}
    out = from_snapshot({"A": D(3), "B": D(4), "C": D(1)}, None, known, {"C": D(9)}, SOLD_ON)
    assert out["A"] == (Lot(D(3), D(20), OLD, estimated=True),)
    assert out["B"] == known["B"]  # quantity unchanged: its lots stay
    assert out["C"] == (Lot(D(1), D(9), SOLD_ON, estimated=True),)  # nothing known: last price


def test_a_snapshot_with_lots_takes_the_clients_lots() -> None:
    own = {"A": (Lot(D(2), D(11), OLD), Lot(D(1), D(12), RECENT))}
    out = from_snapshot({"A": D(3)}, own, {"A": (Lot(D(3), D(1), OLD),)}, {}, SOLD_ON)
    assert out == own


NOW = datetime(2026, 6, 1, 15, tzinfo=UTC)


def blocked(policy: LotPolicy, lots: dict[str, tuple[Lot, ...]]) -> PortfolioAccount:
    portfolio = Portfolio(
        "P1",
        {s: total_qty(held) for s, held in lots.items()},
        D(0),
        PortfolioSettings(lot_policy=policy),
        blocked_by="O1",
        blocked_run_type=RunType.FULL_REBALANCE,
        blocked_at=NOW,
        funded=True,
        lots=lots,
    )
    return PortfolioAccount(portfolio, "acc")


def test_a_run_opens_lots_at_the_fill_price_and_sells_by_the_policy() -> None:
    account = blocked(LotPolicy.HIFO, {"A": LOTS})
    run = RunResult(
        "O1",
        {"A": D(-15), "B": D(4)},
        D(1000),
        NOW,
        fills=(
            Fill("A", Side.SELL, D(15), D(100), SOLD_ON),
            Fill("B", Side.BUY, D(4), D("25.5"), SOLD_ON),
        ),
    )
    done = run_completed(account, run, completed_on=SOLD_ON, unblock=True)
    assert done is not None
    lots = done.account.portfolio.lots
    assert lots["B"] == (Lot(D(4), D("25.5"), SOLD_ON),)
    assert sorted(lot.cost_per_share for lot in lots["A"]) == [D(50), D(80), D(90), D(120)]
    assert total_qty(lots["A"]) == D(35)
    # the HIFO sale took 10 @130 and 5 @120: both at a loss, remembered for the guard
    assert done.account.portfolio.loss_sales == {"A": SOLD_ON}


def test_a_run_without_fills_still_leaves_lots_that_match_the_holdings() -> None:
    account = blocked(LotPolicy.FIFO, {"A": LOTS})
    run = RunResult("O1", {"A": D(-5)}, D(500), NOW)
    done = run_completed(account, run, completed_on=SOLD_ON, unblock=True)
    assert done is not None
    assert total_qty(done.account.portfolio.lots["A"]) == D(45)
    assert done.account.portfolio.loss_sales == {}


def test_lots_and_loss_sales_survive_the_store_and_old_documents_load() -> None:
    account = blocked(LotPolicy.TAX_MIN, {"A": LOTS})
    account = replace(account, portfolio=replace(account.portfolio, loss_sales={"A": SOLD_ON}))
    doc = json.loads(json.dumps(record_to_document(account)))
    again = record_from_document(doc)
    assert again.portfolio == account.portfolio
    del doc["portfolio"]["lots"], doc["portfolio"]["loss_sales"]
    del doc["portfolio"]["settings"]["lot_policy"]
    loaded = record_from_document(doc)
    assert loaded.portfolio.lots == {} and loaded.portfolio.settings.lot_policy is LotPolicy.FIFO


# -- properties ---------------------------------------------------------------------------------

quantities = st.decimals(D("0.001"), D(1000), places=3)
costs = st.decimals(D("0.01"), D(500), places=2)
days = st.dates(date(2024, 1, 1), date(2026, 5, 31))
lot_strategy = st.builds(Lot, quantities, costs, days)
policies = st.sampled_from(list(LotPolicy))


@settings(max_examples=200, deadline=None)
@given(st.lists(lot_strategy, min_size=1, max_size=12), st.data(), policies, costs)
def test_a_sale_conserves_quantity_and_gain_is_proceeds_minus_cost(
    lots: list[Lot], data: st.DataObject, policy: LotPolicy, price: D
) -> None:
    held = tuple(lots)
    qty = data.draw(st.decimals(D("0.001"), total_qty(held), places=3))
    left, takes = select_lots(held, qty, policy, price, SOLD_ON)
    assert total_qty(left) + sum((t.qty for t in takes), D(0)) == total_qty(held)
    assert sum((t.qty for t in takes), D(0)) == qty
    cost = sum((t.qty * t.cost_per_share for t in takes), D(0))
    assert abs(realized_gain(takes, price).total - (qty * price - cost)) <= D("0.01")


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(st.sampled_from("ABCD"), st.lists(lot_strategy, max_size=5), max_size=4),
    st.dictionaries(st.sampled_from("ABCDE"), quantities, max_size=5),
)
def test_reconciled_lots_always_total_the_holding(
    lots: dict[str, list[Lot]], holdings: dict[str, D]
) -> None:
    prices = dict.fromkeys("ABCDE", D(10))
    out = reconciled({s: tuple(v) for s, v in lots.items()}, holdings, prices, SOLD_ON)
    assert {s: total_qty(v) for s, v in out.items()} == holdings


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from("AB"), st.sampled_from(list(Side)), quantities, costs),
        min_size=1,
        max_size=8,
    ),
    policies,
)
def test_runs_of_fills_keep_lots_equal_to_holdings(
    trades: list[tuple[str, Side, D, D]], policy: LotPolicy
) -> None:
    account = blocked(policy, {"A": LOTS})
    for n, (symbol, side, qty, price) in enumerate(trades):
        held = account.portfolio.holdings.get(symbol, D(0))
        qty = qty if side is Side.BUY else min(qty, held)
        if qty <= 0:
            continue
        run_id = f"O{n}"
        account = replace(account, portfolio=replace(account.portfolio, blocked_by=run_id))
        sign = 1 if side is Side.BUY else -1
        fill = Fill(symbol, side, qty, price, SOLD_ON)
        run = RunResult(run_id, {symbol: sign * qty}, D(0), NOW, fills=(fill,))
        done = run_completed(account, run, completed_on=None, unblock=True)
        assert done is not None
        account = done.account
        portfolio = account.portfolio
        assert {s: total_qty(v) for s, v in portfolio.lots.items()} == dict(portfolio.holdings)


def test_an_unknown_policy_is_refused() -> None:
    with pytest.raises(InvalidSettings, match="lifo"):
        PortfolioSettings(lot_policy="lifo")  # type: ignore[arg-type]


def test_a_gain_beyond_the_wire_is_dropped_not_the_optimization() -> None:
    from rebal_optimizer.domain import Order
    from rebal_optimizer.domain.lots import LotTake
    from rebal_optimizer.service_layer.messages import planned_orders

    huge = LotTake(D("999999999999999"), D("999999999999999"), OLD, True)
    sale = Order(1, "A", Side.SELL, huge.qty, D(1), D("0.000000001"), (huge,), RealizedGain())
    sale = replace(sale, gain=realized_gain(sale.lots, sale.expected_price))
    assert abs(sale.gain.long_term) > D(10) ** 15  # type: ignore[union-attr]
    (wire,) = planned_orders((sale,))
    assert wire.estimated_gain is None and len(wire.lots) == 1  # the lots still fit


def test_an_average_cost_has_a_prices_places() -> None:
    lots = (Lot(D(1), D(1), OLD), Lot(D(2), D(2), OLD))
    (lot,) = from_snapshot({"A": D(4)}, None, {"A": lots}, {}, SOLD_ON)["A"]
    assert lot.cost_per_share == D("1.666666667") and lot.estimated
