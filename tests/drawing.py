"""Draw digits the way the page's canvas does, for tests and benchmarks.

A canvas stroke is a polyline drawn with round caps and joins and
anti-aliased edges. `render_strokes` imitates it with Pillow by drawing at
4× the size and shrinking, and `encode_style` stores the result in one of
the three styles the API accepts.
"""

import gzip
import io
import json

from PIL import Image, ImageDraw

CANVAS_SIDE = 280
"""Logical size of the page's drawing canvas, in CSS pixels."""

DEFAULT_LINE_WIDTH = 18
"""Stroke width of the UNIPEN recipe, in CSS pixels of the 280 px canvas."""

SUPERSAMPLING = 4
"""Drawing at 4× and shrinking gives edges anti-aliased like a browser's."""

OPAQUE = 255

STYLES = ("transparent", "white", "black")
"""Transparent canvas with ink in alpha; dark ink on white; light ink on black."""


def render_strokes(strokes, line_width=DEFAULT_LINE_WIDTH, side=CANVAS_SIDE):
    """Return the ink of a drawing as a mode "L" image, 255 = full ink.

    strokes : list of strokes, each a list of (x, y) points in canvas pixels;
              a stroke of one point is a tap and draws a dot.
    """
    big = Image.new("L", (side * SUPERSAMPLING, side * SUPERSAMPLING), 0)
    pen = ImageDraw.Draw(big)
    width = round(line_width * SUPERSAMPLING)
    radius = width / 2 - 0.5
    for stroke in strokes:
        points = [(x * SUPERSAMPLING - 0.5, y * SUPERSAMPLING - 0.5) for x, y in stroke]
        if len(points) > 1:
            pen.line(points, fill=OPAQUE, width=width)
        for x, y in points:
            pen.ellipse((x - radius, y - radius, x + radius, y + radius), fill=OPAQUE)
    return big.resize((side, side), Image.Resampling.LANCZOS)


def encode_style(ink, style):
    """Return the ink image in one of the API's three styles (a Pillow image)."""
    if style == "transparent":
        image = Image.new("RGBA", ink.size, (0, 0, 0, 0))
        image.putalpha(ink)
        return image
    if style == "white":
        paper = ink.point(lambda value: OPAQUE - value)
        return Image.merge("RGB", [paper] * 3)
    if style == "black":
        return ink.copy()
    raise ValueError(f"style must be one of {STYLES}, got {style!r}")


def png_of(image):
    """Encode a Pillow image as PNG bytes."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def draw_png(strokes, style="transparent", line_width=DEFAULT_LINE_WIDTH):
    """Return PNG bytes of the strokes drawn as the page would, in the given style."""
    return png_of(encode_style(render_strokes(strokes, line_width), style))


def load_handwriting(path):
    """Return the UNIPEN samples: a list of dicts with "label", "strokes", "style", "writer"."""
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]
