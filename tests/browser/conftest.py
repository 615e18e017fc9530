"""Browser fixtures: Debian's Chromium driven by Playwright against the real server.

What the tests read on the page (where to draw, what it shows, how to wait
for an answer) is in bench.support.page, shared with the benchmarks.

The page is opened on the live gunicorn server (tests/conftest.py), so these
tests exercise the same HTML, JavaScript, static files and /predict that a
person's browser gets. Playwright's own browser download is not used: the
tests drive /usr/bin/chromium (or $CHROMIUM_PATH) and skip, saying why, when
it is not installed.
"""

import pytest
from playwright.sync_api import sync_playwright

from bench.support.chromium import CHROMIUM_PATH, launch_chromium
from bench.support.page import DESKTOP_VIEWPORT, PageLog


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium, shared by the session's tests."""
    if not CHROMIUM_PATH.is_file():
        pytest.skip(f"Chromium not found at {CHROMIUM_PATH}: install Debian's chromium "
                    "(bash .ci/test does) or set CHROMIUM_PATH")
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


@pytest.fixture()
def new_page(browser, live_server):
    """Return a function that opens the drawing page in a fresh browser context.

    Keyword arguments go to `browser.new_context` (viewport,
    device_scale_factor, has_touch, ...). Each page records its console
    errors, uncaught exceptions and every response in `page.log`.
    """
    contexts = []

    def open_page(path="/", **context_options):
        context_options.setdefault("viewport", DESKTOP_VIEWPORT)
        context = browser.new_context(**context_options)
        contexts.append(context)
        page = context.new_page()
        page.log = PageLog()
        page.on("console", page.log.on_console)
        page.on("pageerror", page.log.on_page_error)
        page.on("response", page.log.on_response)
        page.on("request", page.log.on_request)
        page.on("requestfinished", page.log.on_request_done)
        page.on("requestfailed", page.log.on_request_done)
        page.goto(live_server + path, wait_until="load")
        return page

    yield open_page

    for context in contexts:
        context.close()


@pytest.fixture()
def page(new_page):
    """The drawing page at desktop size."""
    return new_page()
