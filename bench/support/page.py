"""The drawing page as the browser tests and the benchmarks read it: where to draw, what it shows.

Every helper takes a Playwright page opened on the drawing page. Waiting
helpers nudge the page as `wait_until` explains and raise AssertionError,
naming what they waited for, when the page does not answer in time.
"""

from bench.support.chromium import PAD_SELECTOR, draw_on_page, nudging
from model.constants import CANVAS_HEIGHT

DESKTOP_VIEWPORT = {"width": 1280, "height": 800}
PHONE_VIEWPORT = {"width": 390, "height": 844}

SURFACE_HEIGHT = CANVAS_HEIGHT
"""Height of the page's drawing surface in drawing units, as in static/surface.js.

A point (x, y) in drawing units is at (left + x * k, top + y * k) on screen,
with k the canvas's CSS height / SURFACE_HEIGHT; the surface is as many units
wide as its shape gives.
"""

PREDICTION_TIMEOUT_S = 10
"""How long a drawing may take to be answered before a wait fails."""

NUDGE_INTERVAL_MS = 100
"""How often wait_until moves the mouse to release held callbacks."""

MOUSE_STEPS = 4
"""Intermediate mouse moves Playwright sends between two stroke points."""


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
    box = page.locator(PAD_SELECTOR).bounding_box()
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
    draw_on_page(page, [points], steps=MOUSE_STEPS)


def wait_until(page, condition, what, timeout_s=PREDICTION_TIMEOUT_S):
    """Wait until `condition()` is true, nudging the page; fail naming `what`.

    Headless Chromium may hold a `canvas.toBlob` callback until the next
    input event reaches the page, so a page that is idle in a test would
    never send its drawing, while a person's browser, which gets a stream of
    events, would. Moving the mouse over the page margin (outside the
    canvas, with no button pressed, so it cannot draw) every
    NUDGE_INTERVAL_MS releases such a callback without doing anything a
    person could not. The deadline still fails a page that never answers.
    """
    if condition():
        return
    for _ in nudging(page, timeout_s, NUDGE_INTERVAL_MS):
        if condition():
            return
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}; status line: {status_text(page)!r}")


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
