"""The tax settings through the InvestSuite PATCH/GET: `lot_policy` and `wash_sale_guard` are
sent on portfolio.patched only when given, shown with their defaults, and refused when unknown."""

from __future__ import annotations

from rebal_api.domain.portfolio_book import PLAIN_SETTING_FIELDS
from rebal_schemas.events.portfolio import PLAIN_SETTINGS

from .conftest import Harness
from .test_investsuite_writes import BASE, created, wire


async def test_the_lot_settings_default_and_travel_only_when_given(harness: Harness) -> None:
    first = await created(harness)
    assert first["settings"]["lot_policy"] == "fifo"
    assert first["settings"]["wash_sale_guard"] == "off"
    assert "lot_policy" not in wire(harness)[-1]
    answer = await harness.http.patch(
        f"{BASE}/pf-1", json={"settings": {"lot_policy": "tax_min", "wash_sale_guard": "hold"}}
    )
    assert answer.status_code == 202, answer.text
    patch = wire(harness)[-1]
    assert (patch["lot_policy"], patch["wash_sale_guard"]) == ("tax_min", "hold")
    shown = (await harness.http.get(f"{BASE}/pf-1")).json()["settings"]
    assert (shown["lot_policy"], shown["wash_sale_guard"]) == ("tax_min", "hold")
    await harness.http.patch(f"{BASE}/pf-1", json={"settings": {"active": False}})
    assert (await harness.http.get(f"{BASE}/pf-1")).json()["settings"]["lot_policy"] == "tax_min"


async def test_an_unknown_lot_policy_is_refused(harness: Harness) -> None:
    await created(harness)
    answer = await harness.http.patch(f"{BASE}/pf-1", json={"settings": {"lot_policy": "lifo"}})
    assert answer.status_code in (400, 422)


def test_the_book_patches_every_plain_setting_the_wire_carries() -> None:
    """The read model's settings are the wire's: a setting added to `portfolio.settings_changed`
    without a field in the book's SettingsView would be dropped by every patch."""
    assert frozenset(PLAIN_SETTINGS) == PLAIN_SETTING_FIELDS
