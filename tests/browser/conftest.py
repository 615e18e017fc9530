"""Browser fixtures: Debian's Chromium driven by Playwright against the real server.

The page is opened on the live gunicorn server (tests/conftest.py), so these
tests exercise the same HTML, JavaScript, static files and /predict that a
person's browser gets. Playwright's own browser download is not used: the
tests drive /usr/bin/chromium (or $CHROMIUM_PATH) and skip, saying why, when
it is not installed.
"""

import time
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from bench.support.chromium import CHROMIUM_PATH, NUDGE_POINTS, launch_chromium

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
ARTIFACTS_DIR = PROJECT_ROOT / "tests" / "artifacts"


DESKTOP_VIEWPORT = {"width": 1280, "height": 800}
PHONE_VIEWPORT = {"width": 390, "height": 844}

SURFACE_HEIGHT = 280
"""Height of the page's drawing surface in drawing units, as in static/surface.js.

A point (x, y) in drawing units is at (left + x * k, top + y * k) on screen,
with k the canvas's CSS height / SURFACE_HEIGHT; the surface is as many units
wide as its shape gives.
"""

PREDICTION_TIMEOUT_S = 10
"""How long a drawing may take to be answered before a test fails."""

NUDGE_INTERVAL_S = 0.1
"""How often wait_for_prediction moves the mouse to release held callbacks."""

MOUSE_STEPS = 4
"""Intermediate mouse moves Playwright sends between two stroke points."""


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


class PageLog:
    """What a page said and fetched: console errors, exceptions, responses, /predict calls."""

    def __init__(self):
        self.console_errors = []
        self.page_errors = []
        self.responses = []
        self.predict_requests = []
        self.predict_done = []

    def on_console(self, message):
        if message.type == "error":
            self.console_errors.append(message.text)

    def on_page_error(self, error):
        self.page_errors.append(str(error))

    def on_response(self, response):
        self.responses.append((response.url, response.status))

    def on_request(self, request):
        if is_predict(request):
            self.predict_requests.append(request.url)

    def on_request_done(self, request):
        if is_predict(request):
            self.predict_done.append(request.url)


def is_predict(request):
    return request.method == "POST" and "/predict" in request.url


def canvas_box(page):
    """Return the canvas's bounding box in viewport pixels."""
    box = page.locator("canvas").bounding_box()
    assert box is not None, "the canvas is not displayed"
    return box


def units_to_pixels(page):
    """Return k, the CSS pixels a drawing unit takes on screen."""
    return canvas_box(page)["height"] / SURFACE_HEIGHT


def surface_width(page):
    """Return the drawing surface's width in drawing units."""
    box = canvas_box(page)
    return box["width"] / units_to_pixels(page)


def to_viewport(page, points):
    """Map (x, y) points in drawing units to viewport pixels."""
    box = canvas_box(page)
    scale = units_to_pixels(page)
    return [(box["x"] + x * scale, box["y"] + y * scale) for x, y in points]


def draw_stroke(page, points):
    """Draw one stroke with the mouse through logical (x, y) points."""
    screen = to_viewport(page, points)
    page.mouse.move(*screen[0])
    page.mouse.down()
    for point in screen[1:]:
        page.mouse.move(*point, steps=MOUSE_STEPS)
    page.mouse.up()


def nudge(page, count):
    """Move the mouse outside the canvas, no button pressed, to wake held callbacks."""
    page.mouse.move(*NUDGE_POINTS[count % len(NUDGE_POINTS)])


def wait_until(page, condition, what, timeout_s=PREDICTION_TIMEOUT_S):
    """Wait until `condition()` is true, nudging the page; fail naming `what`.

    Headless Chromium may hold a `canvas.toBlob` callback until the next
    input event reaches the page, so a page that is idle in a test would
    never send its drawing, while a person's browser, which gets a stream of
    events, would. Moving the mouse over the page margin (outside the
    canvas, with no button pressed, so it cannot draw) every
    NUDGE_INTERVAL_S releases such a callback without doing anything a
    person could not. The deadline still fails a page that never answers.
    """
    deadline = time.monotonic() + timeout_s
    count = 0
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s} s waiting for {what}; "
                        f"status line: {status_text(page)!r}")
        nudge(page, count)
        count += 1
        page.wait_for_timeout(NUDGE_INTERVAL_S * 1000)


def is_idle(page):
    """True when the page has no prediction scheduled or in flight."""
    return page.locator("#result").get_attribute("data-requests") == "idle"


def wait_for_idle(page, timeout_s=PREDICTION_TIMEOUT_S):
    """Wait until every prediction the page asked for has been answered."""
    wait_until(page, lambda: is_idle(page), "the page to finish its /predict requests",
               timeout_s)


def wait_for_shown(page, text_of, what, timeout_s=PREDICTION_TIMEOUT_S):
    """Wait for the answer to the drawing so far and return `text_of(page)`.

    Call it after a stroke. It waits until the page has no /predict request
    scheduled or in flight (the answer to the last stroke is then on
    screen) and `text_of(page)` is not empty, nudging the page as
    `wait_until` explains, and fails naming `what`, with the status line,
    if that takes over `timeout_s`.
    """
    wait_until(page, lambda: is_idle(page) and text_of(page) != "", what, timeout_s)
    return text_of(page)


def wait_for_prediction(page, timeout_s=PREDICTION_TIMEOUT_S):
    """Wait for the answer to a drawing of one digit and return the digit in #digit."""
    return wait_for_shown(page, digit_text, "a predicted digit in #digit", timeout_s)


def wait_for_number(page, timeout_s=PREDICTION_TIMEOUT_S):
    """Wait for the answer to a drawing and return the number read in #number."""
    return wait_for_shown(page, number_text, "a number read in #number", timeout_s)


def wait_for_answer(page, timeout_s=PREDICTION_TIMEOUT_S):
    """Wait until the drawing so far is answered, whatever the answer; return the status line."""
    wait_until(
        page,
        lambda: is_idle(page) and "has-prediction" in (page.locator("#result").get_attribute("class") or ""),
        "an answer to the drawing",
        timeout_s,
    )
    return status_text(page)


def load_every_image(page):
    """Scroll each image into view (they load lazily), wait for it, return [(src, naturalWidth)]."""
    images = page.locator("img")
    for index in range(images.count()):
        images.nth(index).scroll_into_view_if_needed()
    # A function, not a bare expression: Playwright evaluates a bare expression with eval()
    # on every poll, which the page's Content-Security-Policy rightly refuses.
    page.wait_for_function("() => [...document.images].every(image => image.complete)")
    return images.evaluate_all("images => images.map(i => [i.currentSrc, i.naturalWidth])")


def settle(page):
    """Wait until the page's CSS transitions (the bars' growth) have finished, for a screenshot."""
    page.evaluate("() => Promise.all(document.getAnimations().map(a => a.finished))")


def stroke_width(page):
    """Return the page's pen width in logical pixels, from the canvas's data-stroke-width."""
    return float(page.locator("canvas").get_attribute("data-stroke-width"))


def history_digits(page):
    """Return the answers of the history's items (the numbers read), newest first."""
    return page.locator("#history > li").evaluate_all("items => items.map(i => i.dataset.answer)")


def digit_text(page):
    return page.locator("#digit").text_content().strip()


def number_text(page):
    return page.locator("#number").text_content().strip()


def status_text(page):
    return page.locator("#status").text_content().strip()


def probability_texts(page):
    """Return the ten bars' value texts, e.g. ['0%', ..., '97%', ...]."""
    return [text.strip() for text in page.locator("#probabilities .probability-value").all_text_contents()]


def bar_shares(page):
    """Return the fraction of each of the ten bars that is filled (its --share)."""
    return page.locator("#probabilities .probability-fill").evaluate_all(
        "fills => fills.map(f => Number(getComputedStyle(f).getPropertyValue('--share')))"
    )


def choose_photo(page, jpeg, name="photo.jpg"):
    """Choose JPEG bytes in the page's "Use a photo" file input, as a person picking a file would."""
    page.locator("#photo-input").set_input_files(
        {"name": name, "mimeType": "image/jpeg", "buffer": jpeg})


def wait_for_photo_answer(page, timeout_s=PREDICTION_TIMEOUT_S):
    """Wait until the photo's answer or an error is shown; return the status text."""
    wait_until(page, lambda: page.evaluate(
        "document.getElementById('photo-answer').textContent !== ''"
        " || document.getElementById('photo-status').classList.contains('is-error')"),
        "the photo's answer", timeout_s)
    return page.locator("#photo-status").inner_text()
