"""Hostile drawings: images within every documented limit that hold thousands of marks.

Each class is a function of (side, seed) returning PNG bytes, small enough
for the 2 MiB upload limit at the sizes in HOSTILE_SIZES. Tests send every
class to the real server, and bench.hostile times them; both read this table.

The drawn classes come as the page's canvas sends a drawing (transparent,
the ink in the alpha channel), so that every mark reaches the segmenter; the
two opaque noises come as a photo would, and model.paper may find no ink in
them at all (422 no_ink, a reading of what they hold).

- noise: random ink strengths (most pixels inked, one mark spanning the image
  and tens of thousands of small ones around it).
- colour_noise: random opaque RGB pixels, as in the report that found the bug.
- bit_noise: random black and white opaque pixels in a 1-bit PNG: 4 MP in 0.5 MB.
- dot_grid: a regular grid of single-pixel dots, a few kB.
- hatching: dense parallel diagonal lines crossing the image.
- crosshatch: dense lines both ways: one mark covering the whole image.
- zigzag: one line a pixel wide, up and down across the image: one mark, no holes.
- confetti: thousands of small filled squares scattered at random.
- specks: one drawn digit among thousands of one-pixel specks.
"""

import io

import numpy as np
from PIL import Image, ImageDraw

from model.constants import MAX_INTENSITY

DOT_PITCH = 3
"""Pixels between the dots of a dot grid: one dot, two blank pixels."""

HATCH_PITCH = 4
"""Pixels between neighbouring hatching lines."""

ZIGZAG_PITCH = 3
"""Pixels between the turns of a zigzag."""

CONFETTI_SHARE = 0.02
"""Confetti pieces per pixel of the image."""

CONFETTI_SIDES = (2, 7)
"""Smallest and largest side of a confetti piece, in pixels."""

SPECK_SHARE = 0.05
"""Specks per pixel of the image around the drawn digit."""


def _png(image):
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _canvas(alpha):
    """Return black ink of strength `alpha` (ndarray (height, width) uint8) on a transparent canvas, as PNG bytes."""
    black = np.zeros(alpha.shape, dtype=np.uint8)
    return _png(Image.fromarray(np.stack([black, black, black, alpha], axis=-1), mode="RGBA"))


def canvas_of(ink):
    """Return a canvas PNG inked where `ink` (ndarray (height, width) bool) is true."""
    return _canvas(np.where(ink, MAX_INTENSITY, 0).astype(np.uint8))


def _drawn(image):
    """Return a canvas PNG of a mode "L" drawing, dark ink on white."""
    return _canvas(MAX_INTENSITY - np.asarray(image, dtype=np.uint8))


def noise(side, seed=0):
    rng = np.random.default_rng(seed)
    return _canvas(rng.integers(0, MAX_INTENSITY + 1, (side, side), dtype=np.uint8))


def colour_noise(side, seed=0):
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, MAX_INTENSITY + 1, (side, side, 3), dtype=np.uint8)
    return _png(Image.fromarray(pixels, mode="RGB"))


def bit_noise(side, seed=0):
    rng = np.random.default_rng(seed)
    return _png(Image.fromarray(rng.random((side, side)) < 0.5).convert("1"))


def dot_grid(side, seed=0):
    rows, columns = np.indices((side, side))
    return canvas_of((rows % DOT_PITCH == 1) & (columns % DOT_PITCH == 1))


def hatching(side, seed=0):
    rows, columns = np.indices((side, side))
    return canvas_of((rows + columns) % HATCH_PITCH == 0)


def crosshatch(side, seed=0):
    rows, columns = np.indices((side, side))
    return canvas_of(((rows + columns) % HATCH_PITCH == 0) | ((rows - columns) % HATCH_PITCH == 0))


def zigzag(side, seed=0):
    """Return one long line a pixel wide, zigzagging up and down across the image: one mark, no holes."""
    image = Image.new("L", (side, side), MAX_INTENSITY)
    xs = np.arange(1, side - 1, ZIGZAG_PITCH)
    ys = np.where(np.arange(xs.size) % 2 == 0, 1, side - 2)
    ImageDraw.Draw(image).line(list(zip(xs.tolist(), ys.tolist())), fill=0, width=1)
    return _drawn(image)


def confetti(side, seed=0):
    rng = np.random.default_rng(seed)
    image = Image.new("L", (side, side), MAX_INTENSITY)
    draw = ImageDraw.Draw(image)
    count = int(CONFETTI_SHARE * side * side)
    corners = rng.integers(0, side, (count, 2))
    sizes = rng.integers(*CONFETTI_SIDES, (count, 2))
    for (x, y), (width, height) in zip(corners.tolist(), sizes.tolist()):
        draw.rectangle((x, y, x + width - 1, y + height - 1), fill=0)
    return _drawn(image)


def specks(side, seed=0):
    """Return a 7 drawn with a pen a tenth of the side wide, among one-pixel specks."""
    rng = np.random.default_rng(seed)
    image = Image.new("L", (side, side), MAX_INTENSITY)
    pen = max(2, side // 20)
    ImageDraw.Draw(image).line(
        [(side * 0.3, side * 0.2), (side * 0.7, side * 0.2), (side * 0.4, side * 0.8)],
        fill=0, width=pen, joint="curve",
    )
    pixels = np.asarray(image).copy()
    count = int(SPECK_SHARE * side * side)
    rows, columns = rng.integers(0, side, (2, count))
    pixels[rows, columns] = 0
    return _drawn(pixels)


HOSTILE_CLASSES = {
    "noise": noise,
    "colour_noise": colour_noise,
    "bit_noise": bit_noise,
    "dot_grid": dot_grid,
    "hatching": hatching,
    "crosshatch": crosshatch,
    "zigzag": zigzag,
    "confetti": confetti,
    "specks": specks,
}
"""Every hostile class by name."""

OPAQUE_NOISES = frozenset({"colour_noise", "bit_noise"})
"""The classes sent as photos: model.paper may find no ink in them (422 no_ink)."""

HOSTILE_SIZES = {
    "noise": (300, 1000),
    "colour_noise": (300, 700),
    "bit_noise": (700, 2000),
    "dot_grid": (300, 2000),
    "hatching": (300, 2000),
    "crosshatch": (300, 2000),
    "zigzag": (300, 2000),
    "confetti": (300, 2000),
    "specks": (300, 2000),
}
"""Sides (pixels) each class is sent at: a small one, and the largest within the upload limits."""


def hostile_cases():
    """Yield (name, side, png bytes) for every class at every size."""
    for name, make in HOSTILE_CLASSES.items():
        for side in HOSTILE_SIZES[name]:
            yield name, side, make(side)
