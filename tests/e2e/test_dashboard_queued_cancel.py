"""The dashboard cancels a QUEUED run by a click, in a real browser (Debian's chromium, headless,
Playwright), over the whole embedded stack: the order-router lives at night on New York's
calendar (its clock hours before a 09:30 opening), so a manual run started from the dashboard's
form (`initiated_from: dashboard`) waits QUEUED for the window; its Cancel button ends it
CANCELED and no order reaches the broker.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest

from rebal_runtime.stack import Stack
from rebal_schemas import (
    CashDeposited,
)

from .broker_helpers import broker_orders, night_router, platform_account, publish_consumed
from .conftest import logs, running_stack
from .dashboard_helpers import browser_page, in_thread, shown

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Stack]:
    with running_stack(
        tmp_path_factory,
        request,
        "dashboard-queued",
        service_overrides=night_router(),
    ) as running:
        yield running


def test_a_queued_run_cancelled_by_a_click_becomes_canceled(stack: Stack) -> None:
    account = str(uuid.uuid4())  # the account's rebal portfolio is its own UUID
    in_thread(
        publish_consumed(
            stack.kafka.bootstrap_servers,
            *platform_account(account),
            CashDeposited(portfolio_id=account, amount=Decimal("10000.00"), deposit_id=account),
        )
    )
    with browser_page(stack) as page:
        shown(page, "/ui/runs", f'#manual-run option[value="{account}"]', stack)
        deadline = time.monotonic() + 60
        while True:  # refused (422) until the api has read the account's funding
            page.select_option('#manual-run select[name="account_id"]', account)
            page.fill('#manual-run input[name="weights"]', "SPY=60, cash=40")
            page.click('#manual-run button[type="submit"]')
            page.wait_for_function(
                "() => { const n = document.getElementById('notice');"
                " return !n.hidden && !/: sent$/.test(n.textContent) &&"
                " (/QUEUED/.test(n.textContent) || n.className === 'error'); }"
            )
            text = page.locator("#notice").inner_text()
            if "QUEUED" in text:
                break
            assert time.monotonic() < deadline, text
            page.wait_for_timeout(1000)
            page.reload()
        queued = f'tr[data-portfolio="{account}"][data-status="QUEUED"] button[data-cancel]'
        shown(page, f"/ui/runs?account={account}", queued, stack)
        row = page.locator(f'tr[data-portfolio="{account}"]')
        assert row.count() == 1 and "dashboard" in row.inner_text()
        page.locator(queued).click()
        page.wait_for_selector("#notice:not([hidden])")
        assert "refused" not in page.locator("#notice").inner_text()
        canceled = f'tr[data-portfolio="{account}"][data-status="CANCELED"]'
        shown(page, f"/ui/runs?account={account}", canceled, stack)
        assert page.locator(f"{canceled} button[data-cancel]").count() == 0
        # and on the overview, nothing waits for the window any more
        page.goto("/ui")
        assert page.locator(f'tr[data-portfolio="{account}"]').count() == 0, logs(stack)
    assert broker_orders(stack) == {}  # nothing ever left for the broker
