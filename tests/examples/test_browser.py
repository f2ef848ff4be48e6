"""The web examples' pages in a real headless Chromium, driven by Playwright.

The Flask example runs under Flask's development server, the Django one under gunicorn
with ``--preload``, so the page is checked against a threaded server and a forked worker.

It needs the ``playwright`` package and a Chromium binary installed by the system (Debian:
``apt-get install chromium``; set ``GQLWS_TEST_CHROMIUM`` to use another path). Playwright's
own browser downloads are not used. Without either, the test is skipped and says why.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest

from gqlws_sync.testing import ReferenceServer

from .support import (
    READ_TIMEOUT,
    AppProcess,
    start_flask,
    start_gunicorn,
    wait_for_cancel,
    wait_for_subscription,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="the browser test needs the playwright package"
)

CHROMIUM = os.environ.get("GQLWS_TEST_CHROMIUM") or shutil.which("chromium")
#: Headless, and nothing that reaches out to the network on its own.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: Playwright takes milliseconds.
BROWSER_TIMEOUT_MS = READ_TIMEOUT * 1000

pytestmark = pytest.mark.skipif(
    CHROMIUM is None or not os.access(CHROMIUM, os.X_OK),
    reason="no Chromium binary: apt-get install chromium, or set GQLWS_TEST_CHROMIUM",
)


@pytest.fixture
def browser() -> Iterator[Browser]:
    """A headless Chromium, closed after the test."""
    assert CHROMIUM is not None
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=BROWSER_TIMEOUT_MS * 3
        )
        try:
            yield browser
        finally:
            browser.close()


def needs(module: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(
        importlib.util.find_spec(module) is None, reason=f"the example needs {module} installed"
    )


@pytest.mark.parametrize(
    "start",
    [
        pytest.param(start_flask, id="flask", marks=needs("flask")),
        pytest.param(start_gunicorn, id="django-gunicorn", marks=needs("django")),
    ],
)
def test_page_shows_events_and_closing_it_cancels_the_subscription(
    browser: Browser,
    gqlws_server: ReferenceServer,
    start: Callable[[str], tuple[AppProcess, int]],
) -> None:
    """The page lists streamed events; once it is closed the server sees the cancel."""
    app, port = start(gqlws_server.url)
    with app:
        page = browser.new_page()
        page.set_default_timeout(BROWSER_TIMEOUT_MS)
        page.goto(f"http://127.0.0.1:{port}/?interval=0.1")
        page.wait_for_function("document.querySelectorAll('#events li').length >= 3")
        events = page.locator("#events li").all_inner_texts()
        assert events[:3] == ['{"ticks": 0}', '{"ticks": 1}', '{"ticks": 2}']
        page.wait_for_function("document.getElementById('query').textContent !== '...'")
        # JSON.stringify's compact form, whatever spacing the server used.
        assert page.inner_text("#query") == '{"hello":"Hello world"}'
        assert page.inner_text("#status") == "open"
        op_id = wait_for_subscription(gqlws_server, "ticks")

        page.close()
        wait_for_cancel(gqlws_server, op_id)
