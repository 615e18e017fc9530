"""The pages at phone, tablet, laptop and wide-screen widths, light and dark.

A screenshot is not a check: each test asserts what a person would notice
at once, namely sideways scrolling, blocks drawn over one another, text
squeezed into a column a few characters wide and, on a phone, an answer
hidden below the fold. The screenshots are kept in tests/artifacts/ for a
person to look at, but the assertions are what fail.
"""

from pathlib import Path

import pytest

from bench.support.page import (
    PHONE_VIEWPORT,
    choose_photo,
    draw_stroke,
    load_every_image,
    settle,
    wait_for_number,
    wait_for_photo_answer,
)
from tests.browser.test_photo import number_photo

ARTIFACTS_DIR = Path(__file__).resolve().parent.parent / "artifacts"
"""Where the screenshots are kept for a person to look at (git ignores it)."""

VIEWPORTS = {
    390: PHONE_VIEWPORT,
    800: {"width": 800, "height": 1280},
    1280: {"width": 1280, "height": 800},
    1920: {"width": 1920, "height": 1080},
}
"""A phone, a tablet held upright, a laptop and a wide screen, by width."""

PAGES = {"drawing": "/", "photo": "/", "model": "/model", "error": "/no-such-page"}
"""The drawing page (with a number drawn, or a photo of one chosen), the model page and the site's error page (an unknown path)."""

FORTY_TWO = [[(95, 50), (50, 170), (150, 170)], [(125, 70), (125, 240)],
             [(210, 95), (235, 55), (285, 55), (305, 95), (290, 140), (215, 235), (315, 235)]]
"""A 4 in two strokes and a 2: a number, so the page shows its digits and their boxes."""

MIN_LINE_EMS = 6
"""Text that wraps in a block narrower than this many ems (about twelve characters) is squeezed."""

MIN_SQUEEZE_TEXT = 8
"""Texts shorter than this many characters may wrap as they like."""

OVERLAP_TOLERANCE_PX = 1
"""Sub-pixel rounding is not an overlap."""

SIBLING_OVERLAPS = """([tolerance]) => {
    // Pairs of visible, in-flow, block-level siblings whose boxes intersect.
    const blockDisplays = new Set(["block", "flex", "grid", "list-item", "table", "flow-root",
        "inline-block", "inline-flex", "inline-grid", "table-row", "table-cell", "table-row-group",
        "table-header-group", "table-caption"]);
    const name = element => element.tagName.toLowerCase()
        + (element.id ? "#" + element.id : "")
        + (element.classList.length ? "." + [...element.classList].join(".") : "");
    const laidOut = element => {
        const style = getComputedStyle(element);
        const box = element.getBoundingClientRect();
        return blockDisplays.has(style.display) && style.visibility !== "hidden"
            && style.position !== "absolute" && style.position !== "fixed"
            && box.width > 1 && box.height > 1;
    };
    const overlaps = [];
    for (const parent of document.body.querySelectorAll("*")) {
        const children = [...parent.children].filter(laidOut);
        for (let i = 0; i < children.length; i += 1) {
            const a = children[i].getBoundingClientRect();
            for (let j = i + 1; j < children.length; j += 1) {
                const b = children[j].getBoundingClientRect();
                const width = Math.min(a.right, b.right) - Math.max(a.left, b.left);
                const height = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
                if (width > tolerance && height > tolerance) {
                    overlaps.push(name(children[i]) + " overlaps " + name(children[j])
                        + " by " + Math.round(width) + " x " + Math.round(height) + " px");
                }
            }
        }
    }
    return overlaps;
}"""

SQUEEZED_TEXTS = """([minEms, minText]) => {
    // Visible texts that wrap in a block narrower than minEms of their font size.
    const squeezed = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const range = document.createRange();
    const blockOf = element => {
        while (element.parentElement && getComputedStyle(element).display.startsWith("inline")) {
            element = element.parentElement;
        }
        return element;
    };
    for (let node = walker.nextNode(); node !== null; node = walker.nextNode()) {
        const text = node.textContent.replace(/\\s+/g, " ").trim();
        const parent = node.parentElement;
        if (text.length < minText || parent.closest(".visually-hidden, [hidden], script, style")) {
            continue;
        }
        range.selectNodeContents(node);
        const lines = new Set([...range.getClientRects()]
            .filter(rect => rect.width > 0 && rect.height > 0)
            .map(rect => Math.round(rect.top))).size;
        const block = blockOf(parent);
        const width = block.clientWidth;
        const em = parseFloat(getComputedStyle(parent).fontSize);
        if (lines >= 2 && width < minEms * em) {
            squeezed.push(JSON.stringify(text) + " on " + lines + " lines of a "
                + width + " px block");
        }
    }
    return squeezed;
}"""


LABEL_OVERLAPS = """([tolerance]) => {
    // Pairs of visible certainty labels of the digit boxes whose boxes intersect.
    const labels = [...document.querySelectorAll("#digit-boxes .digit-outline-label")]
        .filter(label => label.getBoundingClientRect().width > 0);
    const overlaps = [];
    for (let i = 0; i < labels.length; i += 1) {
        const a = labels[i].getBoundingClientRect();
        for (let j = i + 1; j < labels.length; j += 1) {
            const b = labels[j].getBoundingClientRect();
            const width = Math.min(a.right, b.right) - Math.max(a.left, b.left);
            const height = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
            if (width > tolerance && height > tolerance) {
                overlaps.push(JSON.stringify(labels[i].textContent) + " overlaps "
                    + JSON.stringify(labels[j].textContent));
            }
        }
    }
    return overlaps;
}"""

NUMBER_ROUTE = "**/predict/number?*"

CLOSE_MARKS = 3
"""A number of this many digits, each 40 units wide, 10 apart: its labels would overlap side by side."""


def close_number_answer():
    """Return a /predict/number answer of three sure digits whose boxes stand close together."""
    digits = []
    for index in range(CLOSE_MARKS):
        probabilities = [0.0] * 10
        probabilities[index + 1] = 0.9999
        digits.append({"digit": index + 1, "confidence": 0.9999, "confident": True, "is_digit": True,
                       "probabilities": probabilities, "box": [20 + 50 * index, 40, 40, 180]})
    return {"number": "123", "confident": True, "digits": digits, "model": "fake"}


def sideways_overflow(page):
    """Return how many CSS pixels the page is wider than the viewport (0 when it fits)."""
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


def draw_a_number(page):
    for stroke in FORTY_TWO:
        draw_stroke(page, stroke)
    wait_for_number(page)


def open_and_fill(new_page, name, viewport, scheme):
    """Open a page as a person would see it: the drawing page with a number answered."""
    page = new_page(PAGES[name], viewport=viewport, color_scheme=scheme)
    if name == "drawing":
        draw_a_number(page)
    elif name == "photo":
        choose_photo(page, number_photo())
        wait_for_photo_answer(page)
    else:
        load_every_image(page)
        page.evaluate("window.scrollTo(0, 0)")
    settle(page)
    return page


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", VIEWPORTS)
@pytest.mark.parametrize("name", PAGES)
def test_the_page_fits_its_screen(new_page, name, width, scheme):
    page = open_and_fill(new_page, name, VIEWPORTS[width], scheme)
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS_DIR / f"{name}-{width}-{scheme}.png", full_page=True)

    problems = {
        "sideways scrolling (px)": sideways_overflow(page),
        "overlapping blocks": page.evaluate(SIBLING_OVERLAPS, [OVERLAP_TOLERANCE_PX]),
        "squeezed texts": page.evaluate(SQUEEZED_TEXTS, [MIN_LINE_EMS, MIN_SQUEEZE_TEXT]),
        "overlapping labels": page.evaluate(LABEL_OVERLAPS, [OVERLAP_TOLERANCE_PX]),
    }
    assert problems == {"sideways scrolling (px)": 0, "overlapping blocks": [], "squeezed texts": [],
                        "overlapping labels": []}
    image_rights = page.locator("img").evaluate_all(
        "images => images.map(image => image.getBoundingClientRect().right)")
    assert max(image_rights, default=0) <= VIEWPORTS[width]["width"], "a picture runs off the screen"


def test_on_a_phone_the_answer_is_on_screen_right_after_drawing(new_page):
    page = new_page(viewport=PHONE_VIEWPORT, device_scale_factor=3, has_touch=True, is_mobile=True)
    draw_a_number(page)

    box = page.locator("#number").bounding_box()
    assert page.evaluate("window.scrollY") == 0
    assert box["y"] >= 0
    assert box["y"] + box["height"] <= PHONE_VIEWPORT["height"], "the answer is below the fold"


@pytest.mark.parametrize("width", VIEWPORTS)
def test_the_certainty_labels_of_close_digits_never_overlap(new_page, width):
    page = new_page(viewport=VIEWPORTS[width])
    page.route(NUMBER_ROUTE, lambda route: route.fulfill(json=close_number_answer()))
    draw_stroke(page, FORTY_TWO[1])
    assert wait_for_number(page) == "123"
    settle(page)

    labels = page.locator("#digit-boxes .digit-outline-label")
    assert labels.count() == CLOSE_MARKS
    assert page.evaluate(LABEL_OVERLAPS, [OVERLAP_TOLERANCE_PX]) == []
    shown = [text for text, visible in zip(labels.all_text_contents(),
                                           [labels.nth(i).is_visible() for i in range(CLOSE_MARKS)]) if visible]
    assert len(shown) >= 2, f"the labels say what they can: {shown}"
    titles = labels.evaluate_all("labels => labels.map(label => label.title)")
    assert titles == ["over 99.9% sure"] * CLOSE_MARKS, "the full words stay with every label"
