"""Debian's Chromium, headless, as the browser tests and the replay benchmark start it."""

import os
from pathlib import Path

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


def launch_chromium(playwright):
    """Start headless Chromium through Playwright."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM_PATH), headless=True, args=CHROMIUM_ARGS)
