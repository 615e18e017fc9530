""""Use a photo": a picture of digits on paper chosen in the page, read by the real server.

The photos are made by model.training.photos from the strokes of a clear
number, on paper with uneven light, grain and a tilted camera, saved as
JPEG; the page posts the file to /predict/number and shows the number with
a box around each digit on a scaled copy of the photo.
"""

import io

import numpy as np
from PIL import Image

from bench.support.digits import number_strokes
from bench.support.page import PHONE_VIEWPORT, choose_photo, wait_for_photo_answer
from model.constants import MAX_INTENSITY
from model.training.handwriting import render_strokes
from model.training.photos import blank_photo, photo_of

NUMBER = "42"
PHOTO_SEED = 7
BLANK_SEED = 3


def number_photo(text=NUMBER, seed=PHOTO_SEED):
    """Return JPEG bytes of a photo of `text` written in clear digits on paper."""
    strokes, size = number_strokes(text)
    ink = render_strokes(strokes, size=size)
    return photo_of(np.asarray(ink, dtype=np.float32) / MAX_INTENSITY, np.random.default_rng(seed))


def outline_boxes(page):
    return page.locator("#photo-boxes .photo-outline").evaluate_all(
        "boxes => boxes.map(box => { const r = box.getBoundingClientRect();"
        " return {left: r.left, right: r.right, top: r.top, bottom: r.bottom,"
        " digit: box.dataset.digit}; })")


def test_a_photo_of_a_number_is_read_and_its_digits_boxed_on_the_photo(page):
    choose_photo(page, number_photo())
    status = wait_for_photo_answer(page)

    assert page.locator("#photo-answer").inner_text() == NUMBER, status
    assert page.locator("#photo-image").is_visible()
    photo = page.locator("#photo-image").bounding_box()
    boxes = outline_boxes(page)
    assert [box["digit"] for box in boxes] == list(NUMBER)
    for box in boxes:
        assert photo["x"] <= box["left"] < box["right"] <= photo["x"] + photo["width"] + 1
        assert photo["y"] <= box["top"] < box["bottom"] <= photo["y"] + photo["height"] + 1
    first_centre = (boxes[0]["left"] + boxes[0]["right"]) / 2
    assert first_centre < boxes[1]["left"], "the digits' boxes are not left to right"
    assert page.log.console_errors == [] and page.log.page_errors == []


def test_the_photo_is_shown_scaled_to_fit_a_phone(new_page):
    page = new_page(viewport=PHONE_VIEWPORT, device_scale_factor=3, has_touch=True, is_mobile=True)
    jpeg = number_photo()
    choose_photo(page, jpeg)
    wait_for_photo_answer(page)

    natural_width = Image.open(io.BytesIO(jpeg)).width
    shown = page.locator("#photo-image").bounding_box()
    assert shown["width"] < natural_width
    assert shown["x"] + shown["width"] <= PHONE_VIEWPORT["width"]


def test_paper_without_digits_is_not_read_as_a_number(page):
    choose_photo(page, blank_photo(np.random.default_rng(BLANK_SEED), "shadow"))
    status = wait_for_photo_answer(page)

    assert page.locator("#photo-answer").inner_text() == ""
    assert "No writing found" in status


def test_a_newer_photo_replaces_the_answer_to_an_older_one(page):
    choose_photo(page, number_photo("7", seed=PHOTO_SEED), name="seven.jpg")
    choose_photo(page, number_photo(), name="forty-two.jpg")
    wait_for_photo_answer(page)
    page.wait_for_load_state("networkidle")

    assert page.locator("#photo-answer").inner_text() == NUMBER


def test_the_photo_input_is_reached_from_the_keyboard(page):
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "photo-input":
            break
    assert page.evaluate("document.activeElement.id") == "photo-input"
    assert page.locator("#photo-input").get_attribute("accept") == "image/*"
    assert page.locator("label[for=photo-input]").inner_text() == "Choose a photo"
