"""Correcting an answer on the page: "Not right?", with mouse, touch and keyboard, into the database and out to the trainer.

The tests that look in the database start their own gunicorn on the test's
database (SQLite, and PostgreSQL where TEST_DATABASE_URL is set); the layout
tests use the session's server. The layout checks are those of
tests/browser/test_layout.py, with the correction form open.
"""

import io
import json

import pytest
from PIL import Image

from bench.support.page import (
    DESKTOP_VIEWPORT,
    PHONE_VIEWPORT,
    draw_stroke,
    number_text,
    wait_for_number,
    wait_until,
)
from bench.support.server import ServerStartError
from model.training import corrections
from model.training.handwriting import load_handwriting
from tests.browser.test_layout import (
    FORTY_TWO,
    MIN_LINE_EMS,
    MIN_SQUEEZE_TEXT,
    OVERLAP_TOLERANCE_PX,
    SIBLING_OVERLAPS,
    SQUEEZED_TEXTS,
    VIEWPORTS,
    sideways_overflow,
)
from tests.databases import stored_rows

SEVEN = [[(80, 60), (200, 60), (120, 230)]]
"""A 7 in one stroke, in drawing units."""

THANKS = "Thank you! Your correction will be used to train later models."
PRIVACY = "no name, no address, no IP address"


@pytest.fixture()
def open_on(browser, start_server, database_url):
    """Return a function that opens the drawing page of a server storing into `database_url`."""
    server = start_server({"DATABASE_URL": database_url})
    try:
        server.wait_until_healthy()
    except ServerStartError as error:
        pytest.fail(str(error))
    contexts = []

    def open_page(**context_options):
        context_options.setdefault("viewport", DESKTOP_VIEWPORT)
        context = browser.new_context(**context_options)
        contexts.append(context)
        page = context.new_page()
        page.goto(server.base_url + "/", wait_until="load")
        return page

    yield open_page
    for context in contexts:
        context.close()


def draw_seven(page):
    draw_stroke(page, SEVEN[0])
    return wait_for_number(page)


def correction_status(page):
    return page.locator("#correction-status").text_content().strip()


def wait_for_thanks(page):
    wait_until(page, lambda: correction_status(page) == THANKS, "the page to thank for the correction")


def test_a_correction_sent_with_the_mouse_lands_in_the_database_and_reads_back_for_the_trainer(
        open_on, database_url, tmp_path):
    page = open_on()
    shown = draw_seven(page)
    page.get_by_role("button", name="Not right?").click()
    assert PRIVACY in page.locator("#correction-privacy").inner_text()
    assert page.locator("#correction-privacy").is_visible()
    page.locator("#correction-digits").fill("1")
    page.get_by_role("button", name="Send").click()
    wait_for_thanks(page)

    [row] = stored_rows(database_url)
    assert (row["label"], row["answer"]) == ("1", shown)
    assert row["model"] == page.evaluate("() => fetch('/healthz').then(r => r.json()).then(b => b.model)")
    image = Image.open(io.BytesIO(row["png"]))
    assert image.format == "PNG" and image.size == (row["image_width"], row["image_height"])
    [stroke] = json.loads(row["strokes"])
    assert len(stroke) > 2
    assert all(0 <= x <= image.width and 0 <= y <= image.height for x, y in stroke)

    counts, paths = corrections.export(database_url, tmp_path / "page.jsonl.gz")
    [sample] = load_handwriting(paths["digits"])
    assert sample["label"] == 1, counts
    assert len(sample["strokes"]) == 1


def test_not_a_digit_is_sent_with_a_finger(open_on, database_url):
    page = open_on(viewport=PHONE_VIEWPORT, has_touch=True, is_mobile=True)
    draw_seven(page)
    page.get_by_role("button", name="Not right?").tap()
    page.get_by_role("button", name="It isn't a digit").tap()
    wait_for_thanks(page)
    [row] = stored_rows(database_url)
    assert row["label"] is None


def test_the_keyboard_opens_fills_and_sends_the_form(open_on, database_url):
    page = open_on()
    draw_seven(page)
    page.get_by_role("button", name="Not right?").focus()
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "correction-digits"
    page.keyboard.type("7")
    page.keyboard.press("Enter")
    wait_for_thanks(page)
    assert [row["label"] for row in stored_rows(database_url)] == ["7"]


def test_escape_in_the_form_closes_it_and_keeps_the_drawing(open_on, database_url):
    page = open_on()
    shown = draw_seven(page)
    page.get_by_role("button", name="Not right?").click()
    page.locator("#correction-digits").fill("12")
    page.keyboard.press("Escape")
    assert page.locator("#correction-form").is_hidden()
    assert number_text(page) == shown, "Escape in the form must not clear the drawing"
    assert stored_rows(database_url) == []


def test_digits_that_are_not_digits_are_not_sent(open_on, database_url):
    page = open_on()
    draw_seven(page)
    page.get_by_role("button", name="Not right?").click()
    page.locator("#correction-digits").fill("seven")
    page.get_by_role("button", name="Send").click()
    assert "Type the right digits" in correction_status(page)
    assert stored_rows(database_url) == []


def test_the_control_is_hidden_until_there_is_an_answer_and_never_covers_the_drawing(new_page):
    page = new_page()
    assert page.locator("#correction").is_hidden()
    draw_seven(page)
    page.get_by_role("button", name="Not right?").click()
    control, canvas = page.locator("#correction").bounding_box(), page.locator("canvas").bounding_box()
    assert control["y"] >= canvas["y"] + canvas["height"] or control["x"] >= canvas["x"] + canvas["width"]
    page.get_by_role("button", name="Clear").click()
    assert page.locator("#correction").is_hidden()


def test_drawing_on_with_the_form_open_offers_the_new_answer(new_page):
    page = new_page()
    draw_seven(page)
    page.get_by_role("button", name="Not right?").click()
    page.locator("canvas").scroll_into_view_if_needed()  # the open form may have scrolled it away
    draw_stroke(page, [(260, 60), (260, 230)])
    wait_for_number(page)
    assert page.locator("#correction-form").is_hidden()
    assert page.get_by_role("button", name="Not right?").is_visible()


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", VIEWPORTS)
def test_the_open_form_fits_every_screen(new_page, width, scheme):
    page = new_page(viewport=VIEWPORTS[width], color_scheme=scheme)
    for stroke in FORTY_TWO:
        draw_stroke(page, stroke)
    wait_for_number(page)
    page.get_by_role("button", name="Not right?").click()
    page.locator("#correction-digits").fill("42")
    problems = {
        "sideways scrolling (px)": sideways_overflow(page),
        "overlapping blocks": page.evaluate(SIBLING_OVERLAPS, [OVERLAP_TOLERANCE_PX]),
        "squeezed texts": page.evaluate(SQUEEZED_TEXTS, [MIN_LINE_EMS, MIN_SQUEEZE_TEXT]),
    }
    assert problems == {"sideways scrolling (px)": 0, "overlapping blocks": [], "squeezed texts": []}
