"""portfolio.settings_changed as a client serializing the whole model sends it: every field,
nulls included. A null optional setting is "unchanged"; only `model_id` and `target_weights`
keep their contract meaning (null ends the subscription / drops the own weights)."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal as D

from rebal_schemas import PortfolioSettingsChanged, decode, encode
from rebal_schemas.events.portfolio import PATCHABLE_SETTINGS
from rebal_schemas.topics import PORTFOLIO_PATCHED

from .conftest import Env


def with_every_field(**given: object) -> PortfolioSettingsChanged:
    """The event as the wire carries it from such a client: every setting, nulls included
    (`encode` itself writes only the settings given)."""
    event = PortfolioSettingsChanged(portfolio_id="p1", **given)  # type: ignore[arg-type]
    wire = {name: None for name in PATCHABLE_SETTINGS} | json.loads(encode(event))
    decoded = decode(PORTFOLIO_PATCHED.name, json.dumps(wire).encode())
    assert isinstance(decoded, PortfolioSettingsChanged)
    assert {"cash_buffer_percent", "mandate", "active"} <= decoded.model_fields_set
    return decoded


async def test_every_field_null_but_model_id_changes_only_the_model(env: Env) -> None:
    await env.funded(
        "p1",
        mandate="ADVISORY",
        fractional_trading=False,
        min_order_notional=D(5),
        cash_buffer_percent=D("2.5"),
        invest_cash_threshold=D(50),
        account_id="acct-1",
    )
    await env.model("m2")
    before = await env.record("p1")
    await env.handlers.portfolio_patched(with_every_field(model_id="m2"))
    after = await env.record("p1")
    assert after.portfolio.settings == replace(before.portfolio.settings, model_id="m2")
    assert after.account_id == "acct-1"


async def test_a_null_cash_buffer_keeps_the_buffer(env: Env) -> None:
    await env.funded("p1", cash_buffer_percent=D(3))
    await env.handlers.portfolio_patched(with_every_field(model_id="m1", active=False))
    settings = (await env.record("p1")).portfolio.settings
    assert settings.cash_buffer_percent == D(3) and settings.active is False
    await env.handlers.portfolio_patched(with_every_field(cash_buffer_percent=D("1.5")))
    settings = (await env.record("p1")).portfolio.settings
    assert settings.cash_buffer_percent == D("1.5") and settings.active is False
    # `model_id: null` stays the contract's "end the subscription" (the api's unsubscribe)
    assert settings.model_id is None
