"""A small drawing library on Pillow: smooth lines, dashes, markers and text, and round axis ticks.

Pillow draws lines without anti-aliasing, so a `Canvas` draws at
SUPERSAMPLE times the final size, in final-size units, and `finish`
averages the pixels back down: lines and text come out smooth. Pillow's
bundled font makes every picture the same on every machine.
"""

import functools
import math

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from model.constants import MAX_INTENSITY

SUPERSAMPLE = 2
"""Pictures are drawn this many times larger, then shrunk with a box filter."""

TEXT = (33, 33, 33)
WHITE = (255, 255, 255)
"""The default ink and background."""

MAX_TICKS = 6
"""Most ticks `nice_ticks` puts on an axis."""

DASH = 8
"""Length in pixels of a dash, and of the gap after it."""


@functools.cache
def font(size):
    """Return Pillow's bundled font at `size` pixels (the same on every machine)."""
    return ImageFont.load_default(size=size)


class Canvas:
    """An RGB picture drawn in final-size pixel units, at SUPERSAMPLE times the resolution.

    `finish` shrinks it with a box filter: Pillow draws lines without
    anti-aliasing, and averaging SUPERSAMPLE² pixels smooths their edges.
    """

    def __init__(self, size, background=WHITE):
        self.size = tuple(int(side) for side in size)
        self.image = Image.new("RGB", (self.size[0] * SUPERSAMPLE, self.size[1] * SUPERSAMPLE), background)
        self.draw = ImageDraw.Draw(self.image)

    @staticmethod
    def _scaled(points):
        return [(x * SUPERSAMPLE, y * SUPERSAMPLE) for x, y in points]

    def line(self, points, fill, width=1):
        self.draw.line(self._scaled(points), fill=fill, width=round(width * SUPERSAMPLE), joint="curve")

    def dashed_line(self, start, end, fill, width=1, dash=DASH):
        """Draw a dashed straight line, dashes and gaps `dash` pixels long."""
        (x0, y0), (x1, y1) = start, end
        length = math.hypot(x1 - x0, y1 - y0)
        for begin in np.arange(0, length, 2 * dash):
            stop = min(begin + dash, length)
            a, b = begin / length, stop / length
            points = [(x0 + t * (x1 - x0), y0 + t * (y1 - y0)) for t in (a, b)]
            self.line(points, fill, width)

    def rectangle(self, box, fill=None, outline=None, width=1):
        x0, y0, x1, y1 = box
        self.draw.rectangle(
            (x0 * SUPERSAMPLE, y0 * SUPERSAMPLE, x1 * SUPERSAMPLE - 1, y1 * SUPERSAMPLE - 1),
            fill=fill,
            outline=outline,
            width=round(width * SUPERSAMPLE),
        )

    def marker(self, centre, radius, fill, square=False):
        x, y = centre
        (x0, y0), (x1, y1) = self._scaled([(x - radius, y - radius), (x + radius, y + radius)])
        (self.draw.rectangle if square else self.draw.ellipse)((x0, y0, x1, y1), fill=fill)

    def polygon(self, points, fill):
        self.draw.polygon(self._scaled(points), fill=fill)

    def text(self, xy, text, size, fill=TEXT, anchor="la"):
        """Write text; `anchor` is Pillow's two-letter anchor (e.g. "mm" centres it on xy)."""
        x, y = xy
        big_font = font(size * SUPERSAMPLE)
        self.draw.text((x * SUPERSAMPLE, y * SUPERSAMPLE), text, font=big_font, fill=fill, anchor=anchor)

    def text_width(self, text, size):
        return font(size * SUPERSAMPLE).getlength(text) / SUPERSAMPLE

    def vertical_text(self, centre, text, size, fill=TEXT):
        """Write text turned a quarter anticlockwise (read bottom to top), centred on `centre`."""
        text_font = font(size * SUPERSAMPLE)
        left, top, right, bottom = text_font.getbbox(text)
        mask = Image.new("L", (right - left, bottom - top), 0)
        ImageDraw.Draw(mask).text((-left, -top), text, font=text_font, fill=MAX_INTENSITY)
        mask = mask.rotate(90, expand=True)
        x, y = centre
        corner = (round(x * SUPERSAMPLE - mask.width / 2), round(y * SUPERSAMPLE - mask.height / 2))
        self.image.paste(Image.new("RGB", mask.size, fill), corner, mask)

    def paste(self, picture, corner):
        """Paste an RGB picture given in final-size pixels, its pixels kept square and sharp."""
        big = picture.resize((picture.width * SUPERSAMPLE, picture.height * SUPERSAMPLE), Image.Resampling.NEAREST)
        self.image.paste(big, (round(corner[0] * SUPERSAMPLE), round(corner[1] * SUPERSAMPLE)))

    def finish(self):
        """Return the picture at its final size."""
        return self.image.reduce(SUPERSAMPLE)


def nice_ticks(low, high, max_ticks=MAX_TICKS, integer=False):
    """Return evenly spaced round tick values covering [low, high], at most about max_ticks.

    The step is 1, 2, 2.5 or 5 times a power of ten (whole numbers when
    `integer`); the first and last ticks bound the data, so the axis runs
    from one to the other.
    """
    if not high > low:
        pad = max(abs(low) * 0.05, 0.5 if integer else 1e-3)
        low, high = low - pad, high + pad
    raw_step = (high - low) / max(max_ticks - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw_step))
    for multiple in (1, 2, 2.5, 5, 10):
        step = multiple * magnitude
        if integer:
            step = max(1, round(step))
        if (math.ceil(high / step - 1e-9) - math.floor(low / step + 1e-9)) <= max_ticks - 1:
            break
    first = math.floor(low / step + 1e-9)
    last = math.ceil(high / step - 1e-9)
    return np.arange(first, last + 1) * step


def format_tick(value, step):
    """Write a tick value with just enough decimals to tell it from its neighbours."""
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    if not float(step * 10**decimals).is_integer():
        decimals += 1
    return f"{value:.{decimals}f}"


def draw_arrow(canvas, start_x, end_x, y, fill, width=2):
    """Draw a short arrow from left to right (the bundled font has no arrow glyph)."""
    head = 6
    canvas.line([(start_x, y), (end_x - head, y)], fill, width)
    canvas.polygon([(end_x, y), (end_x - head - 2, y - head), (end_x - head - 2, y + head)], fill)


def blend(colour, shade):
    """Return the colours between white (shade 0) and `colour` (shade 1), elementwise.

    shade : ndarray of any shape, in [0, 1]
    Returns uint8 ndarray of shape shade.shape + (3,).
    """
    shade = np.clip(np.asarray(shade, dtype=np.float64), 0.0, 1.0)[..., None]
    white = np.array(WHITE, dtype=np.float64)
    return np.round(white + shade * (np.array(colour, dtype=np.float64) - white)).astype(np.uint8)
