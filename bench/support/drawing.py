"""Drawings as the page sends them, for tests and benchmarks.

`model.training.handwriting.render_strokes` draws strokes with the UNIPEN recipe's pen (PEN_WIDTH);
`encode_style` stores that ink in one of the three styles the API accepts,
and `draw_png` does both and encodes the PNG (`encode_image`).
"""

import io

from PIL import Image

from model.constants import CANVAS_HEIGHT, MAX_INTENSITY, PEN_WIDTH
from model.training.handwriting import render_strokes

STYLES = ("transparent", "white", "black")
"""Transparent canvas with ink in alpha; dark ink on white; light ink on black."""

CANVAS_SIZE = (CANVAS_HEIGHT, CANVAS_HEIGHT)
"""(width, height) of the square canvas the page had for single digits."""


def encode_style(ink, style):
    """Return the ink image (mode "L", 255 = full ink) in one of the API's three styles, as a Pillow image."""
    if style == "transparent":
        image = Image.new("RGBA", ink.size, (0, 0, 0, 0))
        image.putalpha(ink)
        return image
    if style == "white":
        paper = ink.point(lambda value: MAX_INTENSITY - value)
        return Image.merge("RGB", [paper] * 3)
    if style == "black":
        return ink.copy()
    raise ValueError(f"style must be one of {STYLES}, got {style!r}")


def encode_image(image, image_format="PNG", **params):
    """Encode a Pillow image as bytes of `image_format` (PNG unless told), with Pillow's save `params`."""
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **params)
    return buffer.getvalue()


def draw_image(strokes, style="transparent", line_width=PEN_WIDTH, size=CANVAS_SIZE):
    """Return a Pillow image of the strokes drawn with a round pen `line_width` wide on a surface of `size` (width, height).

    strokes : list of strokes, each a list of (x, y) points in drawing units
    """
    return encode_style(render_strokes(strokes, line_width, size), style)


def draw_png(strokes, style="transparent", line_width=PEN_WIDTH, size=CANVAS_SIZE):
    """Return PNG bytes of the strokes drawn as `draw_image` draws them."""
    return encode_image(draw_image(strokes, style, line_width, size))
