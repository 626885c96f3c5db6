"""The dashboard's browser tests: Debian's chromium (headless, Playwright) against the api of a
running stack; a page polled (reloaded) until it shows what is waited for."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

import pytest
from rebal_demo.browser import available, dashboard, settle

from rebal_runtime.stack import Stack

from .conftest import logs

if (why := available()) is not None:  # `make test` installs it first (`make browser`)
    pytest.skip(why, allow_module_level=True)

from playwright.sync_api import Page

T = TypeVar("T")


def in_thread(work: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run` in a thread of its own: Playwright's sync API has a loop in this one."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, work).result()


@contextmanager
def browser_page(stack: Stack) -> Iterator[Page]:
    with dashboard(stack.api_url, stack.api_key, stack.api_secret) as context:
        page = context.new_page()
        yield page


def shown(page: Page, path: str, selector: str, stack: Stack, timeout: float = 120) -> None:
    """Reload `path` until `selector` matches something on it."""
    deadline = time.monotonic() + timeout
    page.goto(path)
    while True:
        settle(page)
        if page.locator(selector).count():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{path}: no {selector} within {timeout}s\n{logs(stack)}")
        page.wait_for_timeout(1000)
        page.reload()
