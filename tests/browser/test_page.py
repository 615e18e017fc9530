"""The drawing page in a real browser: drawing, predictions, errors, input kinds."""

import itertools
import json

import pytest
from playwright.sync_api import Error as PlaywrightError

from bench.support.chromium import nudging
from bench.support.digits import DIGIT_STROKES
from bench.support.page import (
    PHONE_VIEWPORT,
    SURFACE_HEIGHT,
    bar_shares,
    digit_text,
    draw_stroke,
    history_digits,
    probability_texts,
    status_text,
    stroke_width,
    to_viewport,
    wait_for_idle,
    wait_for_prediction,
    wait_until,
)

ONE = [(140, 45), (140, 235)]
(SEVEN,) = DIGIT_STROKES[7]
TOP_BAR = [(60, 40), (140, 45)]
"""A bar to ONE's top, making a 7 (across it, it would make a T, which is not a digit); at x = 100 it
is clear of ONE's ink."""

EMPTY_STATUS = "Write a digit or a number"
QUIET_S = 0.6
"""How long a test watches a page that should do nothing."""

PREDICT_ROUTE = "**/predict/number?*"
"""The page's requests for an answer, for page.route."""

FAKE_BOX = [18, 20, 60, 200]
"""Where a fake answer says a digit's ink is, in pixels of the upload."""


def fake_prediction(digit, confident=True):
    """Return a /predict/number answer body for one `digit`, as the server shapes it."""
    probabilities = [0.01] * 10
    probabilities[digit] = 0.91
    return {"number": str(digit), "confident": confident, "model": "fake",
            "digits": [{"digit": digit, "confidence": 0.91, "confident": confident, "is_digit": True,
                        "probabilities": probabilities, "box": FAKE_BOX}]}


def quiet(page):
    """Let the page run for QUIET_S, nudging it so that nothing is held back."""
    for _ in nudging(page, QUIET_S):
        pass


def ink_alpha(page, points):
    """Return the canvas's alpha (0-255) at logical (x, y) points, from its backing store."""
    return page.evaluate(
        """([points, logical]) => {
            const canvas = document.querySelector("canvas");
            const scale = canvas.height / logical;
            const context = canvas.getContext("2d");
            return points.map(([x, y]) => context.getImageData(
                Math.floor(x * scale), Math.floor(y * scale), 1, 1).data[3]);
        }""",
        [points, SURFACE_HEIGHT],
    )


def assert_answer_is_empty(page):
    assert digit_text(page) == ""
    assert probability_texts(page) == ["–"] * 10
    assert bar_shares(page) == [0] * 10
    assert page.locator("#probabilities .is-top").count() == 0
    assert page.locator("#preview").is_hidden()


def test_the_page_loads_with_one_canvas_a_clear_button_and_no_prediction(page):
    assert page.locator("canvas").count() == 1
    assert page.get_by_role("button", name="Clear").is_visible()
    assert page.get_by_role("button", name="Undo").is_visible()
    assert status_text(page) == EMPTY_STATUS
    assert page.locator("#probabilities li").count() == 10
    assert_answer_is_empty(page)


def test_the_page_logs_no_errors_and_all_its_static_files_load(page):
    assets = page.evaluate(
        """() => [...document.querySelectorAll("link[href], script[src], img[src]")]
                 .map(element => element.href || element.src)"""
    )
    assert len(assets) >= 3
    for url in assets:
        response = page.request.get(url)
        assert response.status == 200, url
    assert [(url, status) for url, status in page.log.responses if status >= 400] == []
    assert page.log.console_errors == []
    assert page.log.page_errors == []


@pytest.mark.parametrize(("strokes", "expected"), [([ONE], "1"), ([SEVEN], "7")],
                         ids=["one", "seven"])
def test_drawing_a_digit_shows_it(page, strokes, expected):
    for stroke in strokes:
        draw_stroke(page, stroke)
    assert wait_for_prediction(page) == expected


def test_a_prediction_fills_the_bars_and_the_preview(page):
    draw_stroke(page, SEVEN)
    digit = int(wait_for_prediction(page))

    shares = bar_shares(page)
    assert sum(shares) == pytest.approx(1, abs=0.01)
    assert max(shares) == shares[digit]
    top = page.locator("#probabilities .is-top")
    assert top.count() == 1
    assert top.get_attribute("data-digit") == str(digit)
    assert all(text.endswith("%") for text in probability_texts(page))
    assert f"{digit}: " in top.text_content()
    assert page.locator("#confidence").text_content().endswith("%")

    preview = page.locator("#preview")
    assert preview.is_visible()
    assert preview.get_attribute("src").startswith("data:image/png;base64,")
    assert preview.evaluate("image => [image.naturalWidth, image.naturalHeight]") == [28, 28]
    assert preview.evaluate("image => getComputedStyle(image).imageRendering") == "pixelated"
    assert page.log.console_errors == [], "a console error (a CSP violation?) while showing it"


def test_clear_empties_the_drawing_and_the_answer(page):
    draw_stroke(page, SEVEN)
    wait_for_prediction(page)

    page.get_by_role("button", name="Clear").click()

    assert_answer_is_empty(page)
    assert status_text(page) == EMPTY_STATUS
    assert max(ink_alpha(page, SEVEN)) == 0


def test_escape_clears(page):
    draw_stroke(page, SEVEN)
    wait_for_prediction(page)

    page.keyboard.press("Escape")

    assert_answer_is_empty(page)
    assert status_text(page) == EMPTY_STATUS


@pytest.mark.parametrize("undo", ["button", "Control+z", "Meta+z"])
def test_undo_removes_the_last_stroke(page, undo):
    draw_stroke(page, ONE)
    first = wait_for_prediction(page)
    draw_stroke(page, TOP_BAR)
    wait_for_prediction(page)
    assert ink_alpha(page, [(100, 40)]) == [255]

    if undo == "button":
        page.get_by_role("button", name="Undo").click()
    else:
        page.keyboard.press(undo)

    assert ink_alpha(page, [(100, 40), (140, 140)]) == [0, 255]
    assert wait_for_prediction(page) == first


def test_a_blank_page_never_posts(page):
    page.get_by_role("button", name="Clear").click()
    page.get_by_role("button", name="Undo").click()
    page.keyboard.press("Escape")
    page.keyboard.press("Control+z")
    quiet(page)

    assert page.log.predict_requests == []
    assert status_text(page) == EMPTY_STATUS
    assert_answer_is_empty(page)


def test_undoing_the_only_stroke_empties_the_answer_without_posting(page):
    draw_stroke(page, ONE)
    wait_for_prediction(page)
    posted = len(page.log.predict_requests)

    page.get_by_role("button", name="Undo").click()
    quiet(page)

    assert len(page.log.predict_requests) == posted
    assert status_text(page) == EMPTY_STATUS
    assert_answer_is_empty(page)


@pytest.mark.parametrize(
    ("status", "content_type", "body", "expected"),
    [
        (400, "application/json",
         {"error": {"code": "invalid_image", "message": "The upload is not an image Pillow can read."}},
         "The upload is not an image Pillow can read."),
        (422, "application/json",
         {"error": {"code": "no_ink", "message": "The image has no ink: draw a digit."}},
         "The image has no ink: draw a digit."),
        (502, "text/html", "<h1>Bad gateway</h1>", "The server answered 502"),
    ],
    ids=["invalid-image", "no-ink", "not-json"],
)
def test_a_server_error_is_shown_in_the_status_line(page, status, content_type, body, expected):
    payload = json.dumps(body) if content_type == "application/json" else body
    page.route(PREDICT_ROUTE, lambda route: route.fulfill(
        status=status, content_type=content_type, body=payload))

    draw_stroke(page, ONE)
    wait_for_idle(page)

    assert expected in status_text(page)
    assert "is-error" in page.locator("#status").get_attribute("class")
    assert_answer_is_empty(page)


def test_a_network_failure_is_shown_in_the_status_line(page):
    page.route(PREDICT_ROUTE, lambda route: route.abort("connectionrefused"))

    draw_stroke(page, ONE)
    wait_for_idle(page)

    assert "Could not reach the server" in status_text(page)
    assert_answer_is_empty(page)


def test_a_not_confident_answer_shows_a_not_sure_state(page):
    page.route(PREDICT_ROUTE, lambda route: route.fulfill(
        json=fake_prediction(4, confident=False)))

    draw_stroke(page, ONE)
    wait_for_prediction(page)

    assert page.locator("#unsure").is_visible()
    assert "Not sure" in status_text(page)
    assert digit_text(page) == "4"


def test_an_older_answer_arriving_last_is_ignored(page):
    held = []

    def hold_the_first(route):
        if held:
            route.continue_()
        else:
            held.append(route)

    page.route(PREDICT_ROUTE, hold_the_first)
    draw_stroke(page, ONE)

    def only_the_held_one_is_open():
        log = page.log
        return (len(log.predict_requests) >= 2
                and len(log.predict_done) == len(log.predict_requests) - 1
                and digit_text(page) != "")

    wait_until(page, only_the_held_one_is_open, "the later /predict answers")
    quiet(page)
    assert only_the_held_one_is_open()
    newer = digit_text(page)

    held[0].fulfill(json=fake_prediction((int(newer) + 1) % 10))
    wait_for_idle(page)

    assert digit_text(page) == newer


def test_an_answer_arriving_after_clear_is_ignored(page):
    held = []

    def hold(route):
        held.append(route)

    page.route(PREDICT_ROUTE, hold)
    draw_stroke(page, ONE)
    wait_until(page, lambda: len(held) > 0, "a /predict request")

    page.keyboard.press("Escape")
    for route in held:
        try:
            route.fulfill(json=fake_prediction(3))
        except PlaywrightError:
            pass  # The page aborted the request, as it should.
    quiet(page)

    assert_answer_is_empty(page)
    assert status_text(page) == EMPTY_STATUS


def test_touch_draws(new_page):
    page = new_page(viewport=PHONE_VIEWPORT, device_scale_factor=3, has_touch=True,
                    is_mobile=True)
    page.evaluate("""() => { window.pointerTypes = [];
        document.querySelector("canvas").addEventListener("pointerdown",
            event => window.pointerTypes.push(event.pointerType)); }""")
    cdp = page.context.new_cdp_session(page)
    points = to_viewport(page, [(140, 45 + step * 19) for step in range(11)])

    cdp.send("Input.dispatchTouchEvent", {
        "type": "touchStart", "touchPoints": [{"x": points[0][0], "y": points[0][1]}]})
    for x, y in points[1:]:
        cdp.send("Input.dispatchTouchEvent", {
            "type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})

    assert page.evaluate("window.pointerTypes") == ["touch"]
    assert wait_for_prediction(page) == "1"


def test_pen_draws(page):
    page.evaluate("""() => { window.pointerTypes = [];
        document.querySelector("canvas").addEventListener("pointerdown",
            event => window.pointerTypes.push(event.pointerType)); }""")
    cdp = page.context.new_cdp_session(page)
    points = to_viewport(page, SEVEN)
    pen = {"button": "left", "buttons": 1, "pointerType": "pen", "clickCount": 1}

    cdp.send("Input.dispatchMouseEvent", {"type": "mousePressed", "x": points[0][0],
                                          "y": points[0][1], **pen})
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        for step in range(1, 11):
            cdp.send("Input.dispatchMouseEvent", {
                "type": "mouseMoved", "x": x0 + (x1 - x0) * step / 10,
                "y": y0 + (y1 - y0) * step / 10, **pen})
    cdp.send("Input.dispatchMouseEvent", {"type": "mouseReleased", "x": points[-1][0],
                                          "y": points[-1][1], **pen, "buttons": 0})

    assert page.evaluate("window.pointerTypes") == ["pen"]
    assert wait_for_prediction(page) == "7"


def test_a_tap_draws_a_dot(page):
    pen_width = stroke_width(page)
    x, y = to_viewport(page, [(140, 140)])[0]
    page.mouse.click(x, y)

    assert ink_alpha(page, [(140, 140), (140 + pen_width, 140)]) == [255, 0]
    wait_for_idle(page)
    assert page.log.predict_requests


def test_high_dpi_scrolled_and_scaled_canvas_maps_points_exactly(new_page):
    page = new_page(viewport={"width": 700, "height": 480}, device_scale_factor=2)
    page.evaluate("window.scrollTo(0, 100)")
    assert page.evaluate("window.scrollY") == 100
    css_width, css_height = page.locator("canvas").evaluate(
        "canvas => [canvas.getBoundingClientRect().width, canvas.getBoundingClientRect().height]")
    backing_width = page.locator("canvas").evaluate("canvas => canvas.width")
    assert css_height != SURFACE_HEIGHT
    assert backing_width == round(css_width * 2)

    pen_width = stroke_width(page)
    draw_stroke(page, [(60, 70), (220, 70)])
    draw_stroke(page, [(600, 200), (700, 200)])  # Far to the right, on the wide surface.

    edge = pen_width / 2 - 2
    inside = [(62, 70), (140, 70), (218, 70), (140, 70 - edge), (140, 70 + edge), (602, 200), (698, 200)]
    outside = [(140, 70 - pen_width), (140, 70 + pen_width), (60 - pen_width, 70),
               (220 + pen_width, 70), (140, 140), (650, 200 - pen_width), (700 + pen_width, 200)]
    assert ink_alpha(page, inside) == [255] * len(inside)
    assert ink_alpha(page, outside) == [0] * len(outside)


def thumbnails(page):
    """Return (alt, naturalWidth, is a PNG data URL) of each history thumbnail, newest first."""
    return page.locator("#history img").evaluate_all(
        "images => images.map(i => [i.alt, i.naturalWidth, i.src.startsWith('data:image/png;base64,')])"
    )


def test_each_drawing_updates_the_preview_the_bars_and_the_history(page):
    assert history_digits(page) == []
    assert page.locator("#history-empty").is_visible()

    draw_stroke(page, ONE)
    first = wait_for_prediction(page)
    first_preview = page.locator("#preview").get_attribute("src")
    draw_stroke(page, TOP_BAR)  # The same drawing: its history item is updated, not repeated.
    wait_for_prediction(page)
    page.get_by_role("button", name="Undo").click()
    assert wait_for_prediction(page) == first
    assert history_digits(page) == [first]
    [(alt, width, is_png)] = thumbnails(page)
    assert is_png and width > 0
    assert f"read as {first}" in alt
    assert page.locator("#history-empty").is_hidden()

    page.keyboard.press("Escape")
    assert history_digits(page) == [first], "Clear keeps the history"
    draw_stroke(page, SEVEN)
    second = wait_for_prediction(page)

    assert second != first
    assert history_digits(page) == [second, first]
    assert page.locator("#history > li[aria-current='true']").get_attribute("data-answer") == second
    assert page.locator("#preview").get_attribute("src") != first_preview
    assert page.locator("#probabilities .is-top").get_attribute("data-digit") == second
    transition = page.locator("#probabilities .probability-fill").first.evaluate(
        "fill => [getComputedStyle(fill).transitionProperty, getComputedStyle(fill).transitionDuration]")
    assert "transform" in transition[0] and transition[1] != "0s", "the bars animate"
    assert page.log.console_errors == [], "a CSP violation by a thumbnail?"


def test_undoing_every_stroke_drops_the_drawing_from_the_history(page):
    draw_stroke(page, ONE)
    wait_for_prediction(page)

    page.keyboard.press("Control+z")

    assert history_digits(page) == []
    assert page.get_by_role("button", name="Erase history").is_disabled()


def test_the_history_keeps_the_last_eight_drawings_and_can_be_erased(page):
    drawing = {"digit": 0}
    page.route(PREDICT_ROUTE, lambda route: route.fulfill(
        json=fake_prediction(drawing["digit"], confident=drawing["digit"] != 4)))
    for digit in range(9):
        drawing["digit"] = digit
        page.keyboard.press("Escape")
        draw_stroke(page, ONE)
        wait_for_prediction(page)

    assert history_digits(page) == ["8", "7", "6", "5", "4", "3", "2", "1"], "the newest eight, newest first"
    unsure = page.locator("#history > li.is-unsure")
    assert unsure.count() == 1
    assert "not sure" in unsure.locator("img").get_attribute("alt")
    assert unsure.text_content().strip() == unsure.get_attribute("data-answer"), "nothing added to the answer"
    assert unsure.locator(".history-mark.is-unsure").count() == 1, "the unsure digit is marked as the answer marks it"

    erase = page.get_by_role("button", name="Erase history")
    erase.focus()
    page.keyboard.press("Enter")

    assert history_digits(page) == []
    assert erase.is_disabled()
    assert page.locator("#history-empty").is_visible()
    assert page.evaluate("document.activeElement.id") == "history-heading"
    assert digit_text(page) != "", "erasing the history leaves the drawing and its answer"


def test_every_control_is_reachable_with_the_tab_key(page):
    draw_stroke(page, ONE)
    wait_for_prediction(page)
    reached = []
    for _ in range(12):
        page.keyboard.press("Tab")
        reached.append(page.evaluate(
            "() => document.activeElement.textContent.trim().replace(/\\s+/g, ' ')"))

    for name in ["Skip to content", "Draw a digit", "About the model",
                 "How was it trained, and how good is it?", "Undo", "Clear", "Erase history"]:
        assert name in reached
