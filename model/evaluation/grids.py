"""The report's digit grids, drawn with NumPy and Pillow: the misclassified digits and the first-layer weights.

A grid is a title, a one-line key and tiles of 28×28 pictures, each pixel
a DIGIT_SCALE-wide square: no axes, so no plotting library. Pillow's
bundled font makes every picture the same on every machine.
"""

import functools
import math

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from model.constants import IMAGE_SIDE, MAX_INTENSITY
from model.formatting import probability_percent

N_WEIGHT_UNITS = 100
"""First-layer hidden units drawn in the weights grid."""

GRID_COLUMNS = 10
"""Columns of the misclassified and weights grids."""

TITLE_SIZE = 30
LABEL_SIZE = 24
SMALL_SIZE = 20
"""Font sizes in pixels: shown at half size, as on a phone's 2x screen, the smallest is 10 CSS pixels."""

MARGIN = 20
GRID_HEADER = 96
KEY_Y = MARGIN + 52
"""Where the key under a grid's title is written."""

DIGIT_SCALE = 3
"""Each 28×28 digit or weight image is shown as 84×84 pixels, nearest neighbour."""
MISCLASSIFIED_CELL = (90, 150)
WEIGHT_CELL = (90, 90)
COLOUR_KEY_SIZE = (240, 18)
ARROW_LENGTH = 20
ARROW_HEAD = 6

WHITE = (255, 255, 255)
TEXT = (33, 33, 33)
MUTED = (110, 110, 110)
FRAME = (226, 226, 226)
WRONG_LABEL_COLOUR = (200, 40, 30)
NEGATIVE_COLOUR = (33, 102, 172)
POSITIVE_COLOUR = (178, 24, 43)
"""Ends of the diverging blue-white-red scale of the weights picture."""


@functools.cache
def font(size):
    """Return Pillow's bundled font at `size` pixels (the same on every machine)."""
    return ImageFont.load_default(size=size)


def blend(colour, shade):
    """Return the colours between white (shade 0) and `colour` (shade 1), elementwise.

    shade : ndarray of any shape, in [0, 1]
    Returns uint8 ndarray of shape shade.shape + (3,).
    """
    shade = np.clip(np.asarray(shade, dtype=np.float64), 0.0, 1.0)[..., None]
    white = np.array(WHITE, dtype=np.float64)
    return np.round(white + shade * (np.array(colour, dtype=np.float64) - white)).astype(np.uint8)


def diverging_colours(values):
    """Map values in [-1, 1] to blue (negative), white (zero) and red (positive).

    values : ndarray of any shape
    Returns uint8 ndarray of shape values.shape + (3,).
    """
    values = np.asarray(values)
    return np.where(values[..., None] < 0, blend(NEGATIVE_COLOUR, -values), blend(POSITIVE_COLOUR, values))


def enlarge(pixels):
    """Return a 28×28 tile, (28, 28) or (28, 28, 3), DIGIT_SCALE times larger, each pixel a square block."""
    return pixels.repeat(DIGIT_SCALE, axis=0).repeat(DIGIT_SCALE, axis=1)


def digit_picture(image):
    """Return a 28×28 uint8 digit (ink = 255) as an RGB picture DIGIT_SCALE times larger, dark ink on white."""
    return Image.fromarray(enlarge(MAX_INTENSITY - image).astype(np.uint8), "L").convert("RGB")


def grid(n_items, cell, columns, title):
    """Return (picture, pen) for a titled grid of n_items cells, `columns` wide, room for a key under the title.

    cell : (width, height) of one cell; the grid has at least one row, for
    the "nothing to show" line.
    """
    rows = max(1, math.ceil(n_items / columns))
    picture = Image.new("RGB", (2 * MARGIN + columns * cell[0], GRID_HEADER + rows * cell[1] + MARGIN), WHITE)
    pen = ImageDraw.Draw(picture)
    pen.text((MARGIN, MARGIN), title, font=font(TITLE_SIZE), fill=TEXT)
    return picture, pen


def cell_corner(index, cell, columns):
    """Return the top-left corner (x, y) of cell number `index` of a grid."""
    row, column = divmod(index, columns)
    return MARGIN + column * cell[0], GRID_HEADER + row * cell[1]


def arrow(pen, start_x, y, fill):
    """Draw a short arrow from left to right (the bundled font has no arrow glyph)."""
    end_x = start_x + ARROW_LENGTH
    pen.line([(start_x, y), (end_x - ARROW_HEAD, y)], fill=fill, width=2)
    pen.polygon([(end_x, y), (end_x - ARROW_HEAD - 2, y - ARROW_HEAD), (end_x - ARROW_HEAD - 2, y + ARROW_HEAD)],
                fill=fill)


def draw_misclassified(images, y_true, y_pred, confidence, total_errors=None, columns=GRID_COLUMNS):
    """Draw a grid of digits with their true label, the predicted one and its probability.

    images     : ndarray of shape (n, 28, 28), uint8, ink = 255 (drawn dark on white)
    y_true     : ndarray of shape (n,)
    y_pred     : ndarray of shape (n,)
    confidence : ndarray of shape (n,), probability of the predicted digit
    total_errors : how many wrong answers there were in all (default n), for the title
    Returns an RGB image `columns` cells wide, one row of cells per `columns` digits.
    """
    n = len(images)
    total_errors = n if total_errors is None else total_errors
    cell_width, cell_height = MISCLASSIFIED_CELL
    picture, pen = grid(n, MISCLASSIFIED_CELL, columns, f"Misclassified test digits: {n} of {total_errors}")
    pen.text((MARGIN, KEY_Y), "true", font=font(SMALL_SIZE), fill=MUTED, anchor="lm")
    key_x = MARGIN + font(SMALL_SIZE).getlength("true") + 8
    arrow(pen, key_x, KEY_Y, MUTED)
    pen.text((key_x + ARROW_LENGTH + 8, KEY_Y), "predicted, probability given to the wrong answer; most confident first",
             font=font(SMALL_SIZE), fill=MUTED, anchor="lm")
    if n == 0:
        pen.text((picture.width / 2, GRID_HEADER + cell_height / 2), "no misclassified digits",
                 font=font(LABEL_SIZE), fill=MUTED, anchor="mm")
        return picture

    side = IMAGE_SIDE * DIGIT_SCALE
    for index in range(n):
        x, y = cell_corner(index, MISCLASSIFIED_CELL, columns)
        image_x = x + (cell_width - side) // 2
        picture.paste(digit_picture(images[index]), (image_x, y))
        pen.rectangle((image_x, y, image_x + side - 1, y + side - 1), outline=FRAME)
        centre = x + cell_width / 2
        label_y = y + side + 18
        pen.text((centre - 14, label_y), str(int(y_true[index])), font=font(LABEL_SIZE), fill=TEXT, anchor="rm")
        arrow(pen, centre - ARROW_LENGTH / 2, label_y, MUTED)
        pen.text((centre + 14, label_y), str(int(y_pred[index])), font=font(LABEL_SIZE), fill=WRONG_LABEL_COLOUR,
                 anchor="lm")
        pen.text((centre, label_y + 26), probability_percent(confidence[index]), font=font(SMALL_SIZE), fill=MUTED,
                 anchor="mm")
    return picture


def draw_first_layer_weights(weights, n_units=N_WEIGHT_UNITS, columns=GRID_COLUMNS):
    """Draw the incoming weights of the first hidden units as 28×28 pictures.

    weights : ndarray of shape (784, n_hidden), the first layer's weight matrix
    Each unit is scaled to its own largest absolute weight and coloured
    blue (negative) - white (zero) - red (positive).
    Returns an RGB image `columns` tiles wide, one row per `columns` units.
    """
    n_hidden = weights.shape[1]
    n = min(n_units, n_hidden)
    tiles = np.asarray(weights[:, :n], dtype=np.float64).T.reshape(n, IMAGE_SIDE, IMAGE_SIDE)
    largest = np.abs(tiles).max(axis=(1, 2), keepdims=True)
    coloured = diverging_colours(np.divide(tiles, largest, out=np.zeros_like(tiles), where=largest > 0))

    picture, pen = grid(n, WEIGHT_CELL, columns, f"First-layer weights: hidden units 1 to {n} of {n_hidden}")
    key_width, key_height = COLOUR_KEY_SIZE
    pen.text((MARGIN, KEY_Y), "negative", font=font(SMALL_SIZE), fill=MUTED, anchor="lm")
    key_x = round(MARGIN + font(SMALL_SIZE).getlength("negative") + 10)
    gradient = diverging_colours(np.linspace(-1.0, 1.0, key_width))[None].repeat(key_height, axis=0)
    picture.paste(Image.fromarray(gradient, "RGB"), (key_x, KEY_Y - key_height // 2))
    pen.rectangle((key_x, KEY_Y - key_height // 2, key_x + key_width - 1, KEY_Y + key_height - key_height // 2 - 1),
                  outline=FRAME)
    pen.text((key_x + key_width + 10, KEY_Y), "positive (each unit scaled to its own largest weight)",
             font=font(SMALL_SIZE), fill=MUTED, anchor="lm")

    side = IMAGE_SIDE * DIGIT_SCALE
    for index in range(n):
        x, y = cell_corner(index, WEIGHT_CELL, columns)
        picture.paste(Image.fromarray(enlarge(coloured[index]), "RGB"), (x + (WEIGHT_CELL[0] - side) // 2, y))
    return picture
