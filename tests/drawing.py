"""Draw digits the way the page's canvas does, for tests and benchmarks.

A canvas stroke is a polyline drawn with round caps and joins and
anti-aliased edges. `render_strokes` imitates it with Pillow by drawing at
4× the size and shrinking, and `encode_style` stores the result in one of
the three styles the API accepts.
"""

import io

from PIL import Image

from model.handwriting import CANVAS_HEIGHT, FULL_INK, PEN_WIDTH, load_handwriting, render_strokes

CANVAS_SIDE = CANVAS_HEIGHT
"""Logical size of the page's square drawing canvas, in CSS pixels."""

DEFAULT_LINE_WIDTH = PEN_WIDTH
OPAQUE = FULL_INK

STYLES = ("transparent", "white", "black")
"""Transparent canvas with ink in alpha; dark ink on white; light ink on black."""

__all__ = ["CANVAS_SIDE", "DEFAULT_LINE_WIDTH", "STYLES", "draw_png", "encode_style",
           "load_handwriting", "png_of", "render_strokes"]


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
