"""Debian's chromium driven headless by Playwright: the dashboard's browser tests and the demo's
screenshots. Never Playwright's own browser builds: `make browser` installs the Debian package.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

CHROMIUM = Path("/usr/bin/chromium")
ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
PAGES = (
    ("overview", "/ui"),
    ("runs", "/ui/runs"),
    ("inbox", "/ui/inbox"),
    ("models", "/ui/models"),
)


def available() -> str | None:
    """None when the browser can run; else why not."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing: `make browser` installs Debian's chromium"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (a dev dependency: make install)"
    return None


@contextmanager
def dashboard(url: str, key: str, secret: str) -> Iterator[BrowserContext]:
    """A browser context logged in to the api (HTTP Basic), base URL the api's."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=list(ARGS))
        try:
            context = browser.new_context(
                base_url=url,
                http_credentials={"username": key, "password": secret},
                viewport={"width": 1360, "height": 900},
            )
            yield context
            context.close()
        finally:
            browser.close()


def settle(page: Page) -> None:
    """The page drawn: its charts too (scripts run at DOMContentLoaded)."""
    page.wait_for_load_state("load")
    page.wait_for_function("() => !!window.Chart && !!window.htmx")
    page.wait_for_timeout(300)


def screenshots(url: str, key: str, secret: str, out: Path, portfolio: str | None) -> list[Path]:
    """A full-page screenshot of every page (and of `portfolio`'s), into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    pages = [*PAGES, *((("portfolio", f"/ui/portfolios/{portfolio}"),) if portfolio else ())]
    written = []
    with dashboard(url, key, secret) as context:
        page = context.new_page()
        for name, path in pages:
            page.goto(path)
            settle(page)
            target = out / f"dashboard-{name}.png"
            page.screenshot(path=str(target), full_page=True)
            written.append(target)
    return written
