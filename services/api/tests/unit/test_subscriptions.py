"""`/v1/rebalancing/subscriptions`: an account's rebal portfolio following a model."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from rebal_schemas import PortfolioSettingsChanged, RejectionCode, RequestRejected, Weight

from .conftest import ACCOUNT, OTHER_ACCOUNT, Harness

SUBSCRIPTIONS = "/v1/rebalancing/subscriptions"


async def test_a_new_account_becomes_the_rebal_portfolio_of_its_uuid(harness: Harness) -> None:
    model = await harness.portfolio()
    sub = await harness.subscribe(model["id"])
    [event] = harness.published("portfolio.patched")
    assert isinstance(event, PortfolioSettingsChanged)
    assert event.portfolio_id == event.account_id == ACCOUNT
    assert event.model_id == model["id"]
    assert event.mandate is not None and event.broker_integration is not None
    assert sub["account_id"] == ACCOUNT and sub["portfolio_id"] == model["id"]
    assert sub["rebal_portfolio_id"] == ACCOUNT and sub["last_rebalanced_at"] is None
    assert (await harness.http.get(f"{SUBSCRIPTIONS}/{sub['id']}")).json() == sub


async def test_an_account_rebal_knows_keeps_its_portfolio(harness: Harness) -> None:
    await harness.consume(
        PortfolioSettingsChanged(portfolio_id="p-0001", account_id=ACCOUNT, producer="client")
    )
    model = await harness.portfolio()
    sub = await harness.subscribe(model["id"])
    assert sub["rebal_portfolio_id"] == "p-0001"
    [event] = harness.published("portfolio.patched")
    assert isinstance(event, PortfolioSettingsChanged)
    assert (event.portfolio_id, event.account_id, event.mandate) == ("p-0001", ACCOUNT, None)


async def test_subscribing_is_refused_for_an_inactive_model_or_a_subscribed_account(
    harness: Harness,
) -> None:
    model = await harness.portfolio()
    other = await harness.portfolio()
    await harness.http.delete(f"/v1/rebalancing/portfolios/{other['id']}")
    inactive = await harness.http.post(
        SUBSCRIPTIONS, json={"account_id": ACCOUNT, "portfolio_id": other["id"]}
    )
    assert inactive.status_code == 422 and "inactive" in inactive.json()["message"]
    unknown = await harness.http.post(
        SUBSCRIPTIONS, json={"account_id": ACCOUNT, "portfolio_id": OTHER_ACCOUNT}
    )
    assert unknown.status_code == 422
    await harness.subscribe(model["id"])
    second = await harness.http.post(
        SUBSCRIPTIONS, json={"account_id": ACCOUNT, "portfolio_id": model["id"]}
    )
    assert (
        second.status_code == 422
        and "already has an active subscription" in second.json()["message"]
    )
    assert len(harness.published("portfolio.patched")) == 1


async def test_list_filters_and_pages(harness: Harness) -> None:
    a, b = await harness.portfolio(), await harness.portfolio()
    accounts = [f"00000000-0000-4000-8000-00000000000{i}" for i in range(5)]
    subs = []
    for i, account in enumerate(accounts):
        harness.clock.advance(timedelta(seconds=1))
        subs.append(await harness.subscribe((a if i % 2 == 0 else b)["id"], account))
    seen, token = [], None
    while True:
        params = {"limit": 2, **({"page_token": token} if token else {})}
        page = (await harness.http.get(SUBSCRIPTIONS, params=params)).json()
        seen += [s["id"] for s in page["subscriptions"]]
        token = page["next_page_token"]
        if token is None:
            break
    assert seen == [s["id"] for s in subs]
    of_b = (await harness.http.get(SUBSCRIPTIONS, params={"portfolio_id": b["id"]})).json()
    assert [s["account_id"] for s in of_b["subscriptions"]] == accounts[1::2]
    of_account = (await harness.http.get(SUBSCRIPTIONS, params={"account_id": accounts[2]})).json()
    assert [s["id"] for s in of_account["subscriptions"]] == [subs[2]["id"]]
    bad = await harness.http.get(SUBSCRIPTIONS, params={"page_token": "nonsense!"})
    assert bad.status_code == 400


async def test_delete_ends_the_subscription_and_422s_an_unknown_one(harness: Harness) -> None:
    model = await harness.portfolio()
    sub = await harness.subscribe(model["id"])
    assert (await harness.http.delete(f"{SUBSCRIPTIONS}/{sub['id']}")).status_code == 204
    last = harness.published("portfolio.patched")[-1]
    assert isinstance(last, PortfolioSettingsChanged) and last.model_id is None
    assert (await harness.http.get(f"{SUBSCRIPTIONS}/{sub['id']}")).status_code == 404
    assert (await harness.http.get(SUBSCRIPTIONS)).json()["subscriptions"] == []
    again = await harness.http.delete(f"{SUBSCRIPTIONS}/{sub['id']}")
    assert again.status_code == 422


async def test_settings_from_kafka_read_as_rebal_reads_them(harness: Harness) -> None:
    """Another client's settings: `model_id` subscribes, own `target_weights` end it."""
    model = await harness.portfolio()
    subscribe = PortfolioSettingsChanged(
        portfolio_id="p-9", account_id="acct-9", model_id=model["id"]
    )
    await harness.consume(PortfolioSettingsChanged.model_validate_json(subscribe.model_dump_json()))
    [sub] = (await harness.http.get(SUBSCRIPTIONS)).json()["subscriptions"]
    assert sub["rebal_portfolio_id"] == "p-9"
    assert sub["account_id"] != "acct-9" and len(sub["account_id"]) == 36  # a UUID for it
    own = PortfolioSettingsChanged(
        portfolio_id="p-9", target_weights=(Weight(type="cash", percent=Decimal(100)),)
    )
    await harness.consume(own)
    assert (await harness.http.get(SUBSCRIPTIONS)).json()["subscriptions"] == []


async def test_a_refused_subscription_disappears(harness: Harness) -> None:
    model = await harness.portfolio()
    sub = await harness.subscribe(model["id"])
    [request] = harness.published("portfolio.patched")
    await harness.consume(
        RequestRejected(
            reason_code=RejectionCode.MODEL_INACTIVE,
            message="model is inactive",
            request_event_type="portfolio.settings_changed",
            portfolio_id=ACCOUNT,
            causation_id=request.event_id,
            producer="optimizer",
        )
    )
    assert (await harness.http.get(f"{SUBSCRIPTIONS}/{sub['id']}")).status_code == 404
