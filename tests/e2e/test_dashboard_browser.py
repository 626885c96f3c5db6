"""The operator dashboard in a real browser (Debian's chromium, headless, Playwright) against the
whole embedded stack on the demo's settings (the trading window open): the overview shows the
portfolios by state and updates itself from the rebalancer event stream; an advisory proposal
accepted by a click in the inbox becomes a completed run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from aiokafka import AIOKafkaProducer
from rebal_demo.scenario import INITIAL_PRICES, MODELS

from rebal_runtime.stack import Stack
from rebal_schemas import (
    BrokerIntegration,
    CashDeposited,
    Mandate,
    OptimizerMode,
    PortfolioSettingsChanged,
    PriceUpdated,
)

from .broker_helpers import publish, publish_consumed
from .conftest import running_stack
from .dashboard_helpers import browser_page, in_thread, shown

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

DISCRETIONARY, ADVISORY = "ui-disc", "ui-adv"


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Stack]:
    with running_stack(tmp_path_factory, request, "dashboard") as running:
        now = datetime.now(UTC)
        asyncio.run(
            publish_consumed(
                running.kafka.bootstrap_servers,
                *(PriceUpdated(symbol=s, price=p, as_of=now) for s, p in INITIAL_PRICES.items()),
                *MODELS,
                *(
                    PortfolioSettingsChanged(
                        portfolio_id=pid,
                        account_id=f"acct-{pid}",
                        mandate=mandate,
                        broker_integration=BrokerIntegration.PLATFORM,
                        optimizer=OptimizerMode.PLATFORM,
                        model_id="balanced",
                    )
                    for pid, mandate in (
                        (DISCRETIONARY, Mandate.DISCRETIONARY),
                        (ADVISORY, Mandate.ADVISORY),
                    )
                ),
            )
        )
        yield running


def fund(stack: Stack, *portfolios: str) -> None:
    """Deposits, published from a thread of its own (Playwright's sync API runs a loop here)."""
    in_thread(
        publish(
            stack.kafka.bootstrap_servers,
            *(
                CashDeposited(portfolio_id=p, amount=Decimal("10000.00"), deposit_id=f"d-{p}")
                for p in portfolios
            ),
        )
    )


async def hostile(bootstrap: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait("portfolio.patched", b"{not json", key=b"p-hostile")
    finally:
        await producer.stop()


def count(text: str) -> int:
    return int(text.strip() or 0)


def test_the_overview_shows_portfolios_by_state_live(stack: Stack) -> None:
    with browser_page(stack) as page:
        shown(page, "/ui", f'a[href="/ui/portfolios/{ADVISORY}"]', stack)
        assert page.locator("#live").inner_text() == "live"  # the event stream is open
        fund(stack, DISCRETIONARY, ADVISORY)
        # no reload: the page refreshes itself (the event stream, at worst its 15 s poll)
        awaiting = page.locator('[data-state="awaiting_owner"] .count')
        in_band = page.locator('[data-state="in_band"] .count')
        page.wait_for_function(
            """() => ['awaiting_owner', 'in_band'].every(s =>
                 Number(document.querySelector(`[data-state="${s}"] .count`).textContent) >= 1)""",
            timeout=120_000,
        )
        assert count(awaiting.inner_text()) >= 1 and count(in_band.inner_text()) >= 1
        total = sum(
            count(t) for t in page.locator('[data-testid="states"] .count').all_inner_texts()
        )
        assert total == 2
        section = page.locator("details", has=page.locator(".dot.awaiting_owner"))
        assert section.locator(f'a[href="/ui/portfolios/{ADVISORY}"]').count() == 1
        # a hostile message: dead-lettered by the services that read the topic, and the
        # overview (the api reads dead.letter) counts it and names its topic and reason
        in_thread(hostile(stack.kafka.bootstrap_servers))
        page.wait_for_selector('[data-testid="dead-letter-list"]', timeout=120_000)
        letters = page.locator('[data-testid="dead-letter-list"] tbody').inner_text()
        assert "portfolio.patched" in letters and "JSON" in letters, letters
        assert count(page.locator('[data-testid="dead-letters"]').inner_text().split()[0]) >= 1
        assert page.locator("canvas.chart").count() == 2


def test_an_advisory_proposal_accepted_by_a_click_becomes_a_completed_run(stack: Stack) -> None:
    fund(stack, ADVISORY)  # once only (deposit_id): the test may run alone
    with browser_page(stack) as page:
        proposal = f'article.proposal[data-portfolio="{ADVISORY}"]'
        shown(page, "/ui/inbox", proposal, stack)
        assert "left" in page.locator(proposal).inner_text()
        page.locator(f'{proposal} button[data-decide="ACCEPT"]').click()
        page.wait_for_selector("#notice:not([hidden])")
        assert "sent" in page.locator("#notice").inner_text()
        done = f'tr[data-portfolio="{ADVISORY}"][data-status="COMPLETED_SUCCESS"]'
        shown(page, f"/ui/runs?account={ADVISORY}", done, stack)
        shown(page, "/ui/inbox", ".empty", stack, timeout=30)  # nothing left to decide
        page.goto(f"/ui/portfolios/{ADVISORY}")
        page.wait_for_selector('details.run[data-status="COMPLETED_SUCCESS"]')
        assert "ACCEPT" in page.locator("details.optimization").first.inner_text()
