"""Debian's Chromium, headless, as the browser tests and the benchmarks start it, and the page's pen in it."""

import os
import time
from pathlib import Path

from model.constants import CANVAS_HEIGHT

CHROMIUM_PATH = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
"""Debian's chromium package; CHROMIUM_PATH points elsewhere."""

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
"""No sandbox (CI runs as root), and none of the background connections this
closed network would refuse at every start."""

NUDGE_POINTS = ((2, 2), (3, 3))
"""Viewport points in the page's top-left margin, outside the canvas.

Headless Chromium may hold a `canvas.toBlob` callback until the next input
event; moving the mouse between these points, with no button pressed,
releases it without drawing anything.
"""


NUDGE_INTERVAL_MS = 50
"""How often `nudging` moves the mouse while a benchmark waits for the page."""


def nudging(page, seconds, interval_ms=NUDGE_INTERVAL_MS):
    """Yield every `interval_ms` for `seconds`, moving the mouse between NUDGE_POINTS before each.

    A loop that waits for the page iterates over this, so that a held
    `canvas.toBlob` callback is released as a person's stream of input
    events would release it.
    """
    deadline = time.monotonic() + seconds
    count = 0
    while time.monotonic() < deadline:
        page.mouse.move(*NUDGE_POINTS[count % len(NUDGE_POINTS)])
        count += 1
        page.wait_for_timeout(interval_ms)
        yield


def launch_chromium(playwright):
    """Start headless Chromium through Playwright."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM_PATH), headless=True, args=CHROMIUM_ARGS)


PAD_SELECTOR = "canvas#pad"
"""The page's drawing surface (a fixed test hook)."""


def draw_on_page(page, strokes, steps=1):
    """Draw strokes on the page's pad with the mouse: down at a stroke's first point, moves, up.

    strokes : list of strokes, each a list of (x, y) points in drawing units;
              the pad is 280 units high, so a unit is its CSS height / 280.
    steps : pointer moves Playwright sends from one point to the next.
    """
    box = page.locator(PAD_SELECTOR).bounding_box()
    if box is None:
        raise LookupError(f"the page shows no {PAD_SELECTOR}")
    scale = box["height"] / CANVAS_HEIGHT
    for stroke in strokes:
        points = [(box["x"] + x * scale, box["y"] + y * scale) for x, y in stroke]
        page.mouse.move(*points[0])
        page.mouse.down()
        for point in points[1:]:
            page.mouse.move(*point, steps=steps)
        page.mouse.up()
