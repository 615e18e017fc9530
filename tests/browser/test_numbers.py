"""Numbers and non-digits on the drawing page, and what the page uploads.

The page posts its drawing to POST /predict/number as JSON: a PNG cropped
to the ink, as a data URL, and the pen strokes in that PNG's pixels; it shows the number read with a box around each digit
on the drawing. Tests of what the real server reads draw on the real page;
tests of how the page shows an answer it could get (several digits, a mark
that is not a digit, a certainty near 1) give it that answer through
page.route, shaped as the API's contract says.
"""

import base64
import io
import json

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from bench.support.digits import DIGIT_STROKES
from bench.support.drawing import encode_image
from bench.support.page import (
    DESKTOP_VIEWPORT,
    PHONE_VIEWPORT,
    SURFACE_HEIGHT,
    canvas_box,
    digit_text,
    draw_stroke,
    number_text,
    probability_texts,
    status_text,
    stroke_width,
    surface_width,
    to_viewport,
    wait_for_answer,
    wait_for_number,
    wait_for_prediction,
    wait_until,
)

FOUR = [[(95, 50), (50, 170), (150, 170)], [(125, 70), (125, 240)]]
TWO = [[(210, 95), (235, 55), (285, 55), (305, 95), (290, 140), (215, 235), (315, 235)]]
SEVEN = DIGIT_STROKES[7]
LETTER_X = [[(60, 50), (200, 240)], [(200, 50), (60, 240)]]
"""A capital X: two crossing strokes no one would read as a digit."""

PREDICT_ROUTE = "**/predict/number?*"

MIN_DIGITS_ON_A_DESKTOP = 4
"""The surface must hold a number of at least this many digits on a desktop (4 to 6)."""

DIGIT_WIDTH = 0.6 * SURFACE_HEIGHT
"""Room a digit written the surface's height takes, with its share of the gaps."""

NOT_A_DIGIT_MESSAGE = "doesn't look like a digit"


def draw(page, strokes):
    for stroke in strokes:
        draw_stroke(page, stroke)


def preview_png(shade):
    """Return a 28 x 28 PNG data URL of one grey level, to tell the previews apart."""
    return "data:image/png;base64," + base64.b64encode(encode_image(Image.new("L", (28, 28), shade))).decode()


def fake_mark(digit, x, confidence=0.97, is_digit=True, shade=128):
    """Return one element of a /predict/number answer's digits, its ink at x..x+60 of the upload."""
    probabilities = [round((1 - confidence) / 9, 6)] * 10
    probabilities[digit] = confidence
    return {"digit": digit, "confidence": confidence, "confident": is_digit and confidence >= 0.9,
            "is_digit": is_digit, "probabilities": probabilities, "box": [x, 20, 60, 200],
            "preview": preview_png(shade)}


def fake_number(*marks):
    """Return a /predict/number answer body made of `marks`, as the server shapes it."""
    return {"number": "".join(str(mark["digit"]) for mark in marks),
            "confident": all(mark["confident"] for mark in marks),
            "digits": list(marks), "model": "fake"}


def answer_with(page, body):
    """Make the page's requests for an answer get `body`."""
    page.route(PREDICT_ROUTE, lambda route: route.fulfill(json=body))


def outline_boxes(page):
    """Return the viewport boxes of the outlines drawn around the digits, left to right."""
    return page.locator("#digit-boxes .digit-outline").evaluate_all(
        "outlines => outlines.map(o => { const r = o.getBoundingClientRect();"
        " return {x: r.left, y: r.top, right: r.right, bottom: r.bottom}; })")


def surrounds(box, points, slack):
    """True when every (x, y) viewport point lies in `box`, give or take `slack` pixels."""
    return all(box["x"] - slack <= x <= box["right"] + slack
               and box["y"] - slack <= y <= box["bottom"] + slack for x, y in points)


def test_drawing_42_reads_the_number_42_with_a_box_around_each_digit(page):
    draw(page, FOUR + TWO)

    assert wait_for_number(page) == "42"
    assert digit_text(page) == "", "#digit holds a digit only when one is drawn"
    four, two = outline_boxes(page)
    pen = stroke_width(page) * canvas_box(page)["height"] / SURFACE_HEIGHT
    assert surrounds(four, to_viewport(page, [point for stroke in FOUR for point in stroke]), pen)
    assert surrounds(two, to_viewport(page, TWO[0]), pen)
    assert four["right"] <= two["x"] + pen, "the boxes are in reading order"
    assert page.log.console_errors == [], "a CSP violation while drawing the boxes?"


def test_a_letter_is_said_not_to_be_a_digit_in_words(page):
    draw(page, LETTER_X)

    assert NOT_A_DIGIT_MESSAGE in wait_for_answer(page)
    assert page.locator("#status").is_visible()
    assert digit_text(page) == "", "no big guessed digit"
    assert number_text(page) == ""


def last_upload(page, strokes):
    """Draw `strokes` and return (url, headers, JSON body) of the last request the page sent."""
    uploads = []

    def record(route):
        uploads.append((route.request.url, route.request.headers, route.request.post_data_buffer))
        route.continue_()

    page.route(PREDICT_ROUTE, record)
    draw(page, strokes)
    wait_for_answer(page)
    url, headers, body = uploads[-1]
    return url, headers, json.loads(body)


def test_the_page_posts_the_inked_part_of_the_drawing_as_a_png(page):
    url, headers, body = last_upload(page, SEVEN)
    assert headers["content-type"] == "application/json"
    assert "preview=1" in url
    prefix = "data:image/png;base64,"
    assert body["image"].startswith(prefix)
    image = Image.open(io.BytesIO(base64.b64decode(body["image"][len(prefix):])))
    assert image.format == "PNG"
    pen = stroke_width(page)
    xs, ys = zip(*SEVEN[0])
    ink_width, ink_height = max(xs) - min(xs) + pen, max(ys) - min(ys) + pen
    assert image.width == pytest.approx(ink_width + 2 * pen, abs=3), "the ink's box and a pen width around it"
    assert image.height == pytest.approx(ink_height + 2 * pen, abs=3)
    alpha = np.asarray(image.getchannel("A"))
    rows, columns = np.nonzero(alpha)
    margins = [columns.min(), rows.min(), image.width - 1 - columns.max(), image.height - 1 - rows.max()]
    assert min(margins) >= pen - 1, f"a margin of at least one pen width, got {margins}"


def test_the_page_posts_its_strokes_in_pixels_of_the_png(page):
    _, _, body = last_upload(page, FOUR)
    prefix = "data:image/png;base64,"
    image = Image.open(io.BytesIO(base64.b64decode(body["image"][len(prefix):])))
    strokes = body["strokes"]
    assert [len(stroke) >= 2 for stroke in strokes] == [True, True], "two strokes, in drawing order"
    alpha = np.asarray(image.getchannel("A"))
    for stroke in strokes:
        for x, y in stroke:
            assert 0 <= x < image.width and 0 <= y < image.height
            assert alpha[int(y), int(x)] > 0, f"the point ({x}, {y}) lies on the ink"
    first = np.array(strokes[0])
    units = np.array(FOUR[0][-1]) - np.array(FOUR[0][0])
    path = first[-1] - first[0]
    assert np.allclose(path / np.linalg.norm(path), units / np.linalg.norm(units), atol=0.05), \
        "the first stroke runs the way it was drawn"


def test_two_touching_digits_drawn_on_the_page_are_read_apart(page):
    two = [[(40, 95), (60, 62), (95, 60), (115, 90), (100, 140), (40, 218), (125, 218)]]
    three = [[(120, 80), (150, 60), (185, 75), (180, 120), (145, 138), (190, 160), (190, 200),
              (155, 220), (120, 205)]]
    _, _, body = last_upload(page, two + three)
    image = Image.open(io.BytesIO(base64.b64decode(body["image"].split(",", 1)[1])))
    ink = np.asarray(image.getchannel("A")) > 127
    assert ndimage.label(ink, structure=np.ones((3, 3)))[1] == 1, "the two digits' inks touch"
    assert len(body["strokes"]) == 2
    assert wait_for_number(page) == "23"


def test_a_number_shows_each_digit_and_a_box_around_it_with_its_certainty(page):
    answer_with(page, fake_number(fake_mark(4, 30), fake_mark(2, 150, confidence=0.93),
                                  fake_mark(7, 270, confidence=0.62)))
    draw(page, SEVEN)

    assert wait_for_number(page) == "427"
    labels = page.locator("#digit-boxes .digit-outline-label").all_text_contents()
    assert labels == ["97% sure", "93% sure", "not sure: 62%"]
    assert "Not sure" in status_text(page) and "3rd digit" in status_text(page)
    assert page.locator("#number button").count() == 3


@pytest.mark.parametrize("gesture", ["hover", "focus", "tap"])
def test_hovering_focusing_or_tapping_a_digit_shows_its_probabilities_and_preview(new_page, gesture):
    page = new_page(viewport=DESKTOP_VIEWPORT, has_touch=gesture == "tap")
    answer_with(page, fake_number(fake_mark(4, 30, shade=60), fake_mark(2, 150, shade=120),
                                  fake_mark(7, 270, confidence=0.62, shade=240)))
    draw(page, SEVEN)
    wait_for_number(page)
    previews = [preview_png(shade) for shade in (60, 120, 240)]
    assert page.locator("#preview").get_attribute("src") == previews[0]

    third = page.locator("#number button").nth(2)
    getattr(third, gesture)()

    assert third.get_attribute("aria-pressed") == "true"
    assert page.locator("#preview").get_attribute("src") == previews[2]
    assert page.locator("#probabilities .is-top").get_attribute("data-digit") == "7"
    assert probability_texts(page)[7] == "62%"
    assert page.locator("#confidence").text_content() == "62%"
    assert page.locator("#unsure").is_visible()
    assert "3rd mark of 3" in page.locator("#selection").text_content()
    selected = page.locator("#digit-boxes .digit-outline.is-selected")
    assert selected.count() == 1
    assert selected.text_content() == "not sure: 62%"


def test_a_mark_that_is_not_a_digit_is_shown_as_such_in_a_number(page):
    answer_with(page, fake_number(fake_mark(4, 30), fake_mark(8, 150, is_digit=False),
                                  fake_mark(2, 270)))
    draw(page, SEVEN)

    assert wait_for_number(page) == "4?2"
    middle = page.locator("#number button").nth(1)
    assert "not a digit" in middle.get_attribute("aria-label")
    assert "8" not in middle.text_content(), "not shown as its best guess"
    assert f"2nd mark {NOT_A_DIGIT_MESSAGE}" in status_text(page)
    labels = page.locator("#digit-boxes .digit-outline-label").all_text_contents()
    assert labels[1] == "not a digit"


def test_one_mark_that_is_not_a_digit_is_said_in_words_not_as_a_guess(page):
    answer_with(page, fake_number(fake_mark(4, 30, confidence=0.98, is_digit=False)))
    draw(page, SEVEN)

    assert NOT_A_DIGIT_MESSAGE in wait_for_answer(page)
    assert digit_text(page) == ""
    assert number_text(page) == ""
    assert page.locator("#not-digit").is_visible(), "the answer box says so too"
    assert page.locator("#probabilities .is-top").count() == 0
    assert "4" not in page.locator("#result .answer").text_content()


def test_a_confident_answer_is_announced_but_not_printed_twice(page):
    answer_with(page, fake_number(fake_mark(4, 30), fake_mark(2, 150)))
    draw(page, SEVEN)
    wait_for_number(page)

    assert status_text(page) == "Read as the number 42."
    assert page.locator("#status").get_attribute("aria-live") == "polite"
    assert page.locator("#status").evaluate("status => status.getBoundingClientRect().width") <= 1
    assert page.locator("#not-digit").is_hidden()


def test_a_certainty_near_one_says_over_99_9_percent_never_100(page):
    answer_with(page, fake_number(fake_mark(3, 30, confidence=0.99994)))
    draw(page, SEVEN)

    assert wait_for_prediction(page) == "3"
    assert page.locator("#confidence").text_content() == "over 99.9%"
    assert probability_texts(page)[3] == "over 99.9%"
    assert "100%" not in page.locator("main").text_content()


@pytest.mark.parametrize(("device", "options", "shown"), [
    ("desktop", {"viewport": DESKTOP_VIEWPORT}, True),
    ("touch-only phone", {"viewport": PHONE_VIEWPORT, "has_touch": True, "is_mobile": True}, False),
])
def test_the_keyboard_hint_shows_only_on_devices_with_a_fine_pointer(new_page, device, options, shown):
    page = new_page(**options)

    assert page.locator(".shortcuts").is_visible() == shown


def test_the_surface_holds_a_number_of_several_digits_on_a_desktop(page):
    assert surface_width(page) >= MIN_DIGITS_ON_A_DESKTOP * DIGIT_WIDTH


def test_the_surface_takes_the_full_width_on_a_phone(new_page):
    page = new_page(viewport=PHONE_VIEWPORT, has_touch=True, is_mobile=True)
    drawing = page.locator(".drawing").bounding_box()

    assert canvas_box(page)["width"] == pytest.approx(drawing["width"], abs=1)
    assert surface_width(page) > SURFACE_HEIGHT, "wider than it is high, for a number"


def test_clear_removes_the_boxes_around_the_digits(page):
    answer_with(page, fake_number(fake_mark(4, 30), fake_mark(2, 150)))
    draw(page, SEVEN)
    wait_for_number(page)
    wait_until(page, lambda: page.locator("#digit-boxes .digit-outline").count() == 2, "two boxes")

    page.get_by_role("button", name="Clear").click()

    assert page.locator("#digit-boxes .digit-outline").count() == 0
    assert number_text(page) == ""
