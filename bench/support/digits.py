"""Pen drawings of the ten digits, as the tests and the benchmarks draw them.

`DIGIT_STROKES` holds one drawing of each digit on the page's 280×280
canvas; `digit_png` draws one (moved, scaled and tilted at random when
given a generator), `number_png` writes several side by side with clear
gaps, as a person writes a number on the page.
"""

import math

import numpy as np

from bench.support.drawing import draw_png
from model.constants import CANVAS_HEIGHT, PEN_WIDTH


def arc(cx, cy, rx, ry, start_deg, end_deg, step_deg=10):
    """Return points along an elliptic arc in canvas pixels.

    Angles are in degrees from 3 o'clock, growing clockwise on the screen
    (the canvas's y axis points down); the arc runs from start to end.
    """
    n_points = max(2, math.ceil(abs(end_deg - start_deg) / step_deg) + 1)
    angles = np.radians(np.linspace(start_deg, end_deg, n_points))
    return list(zip((cx + rx * np.cos(angles)).tolist(), (cy + ry * np.sin(angles)).tolist()))


DIGIT_STROKES = {
    0: [arc(140, 140, 52, 85, -100, 260)],
    1: [[(118, 80), (148, 55), (146, 228)]],
    2: [arc(140, 100, 50, 45, 200, 395) + [(92, 225), (198, 225)]],
    3: [arc(138, 98, 45, 40, 200, 450) + arc(138, 182, 52, 45, -90, 160)],
    4: [[(165, 55), (88, 168), (205, 168)], [(168, 105), (168, 230)]],
    5: [[(192, 58), (108, 58), (100, 132)] + arc(140, 172, 55, 50, -130, 150)],
    6: [arc(170, 160, 75, 100, 245, 180) + arc(138, 182, 45, 42, 180, -180)],
    7: [[(85, 62), (198, 62), (128, 232)]],
    8: [arc(140, 97, 40, 38, 90, 450), arc(140, 180, 50, 45, -90, 270)],
    9: [arc(135, 105, 45, 42, 0, -360) + [(172, 232)]],
}
"""One pen drawing of each digit on the 280×280 canvas: list of strokes of (x, y) points."""

ONE_MARKS = {
    "dash": ([[[60, 140], [220, 140]]], 280),
    "underline": ([[[20, 240], [520, 236]]], 540),
    "wide seven": ([[[30, 62], [330, 60], [150, 220]]], 360),
}
"""Marks that are one mark however wide: (strokes, surface width), on a surface 280 units high."""

CANVAS_MARGIN = 10
"""Pixels kept clear at the canvas edges when a varied drawing is moved."""


def vary_strokes(strokes, rng, scale=(0.55, 1.1), max_rotation_deg=12):
    """Return the strokes scaled, rotated and moved at random, still inside the canvas.

    People draw small or large, tilted, anywhere on the pad: each of those
    changes the crop and the resize that preprocessing does.
    """
    points = np.concatenate([np.asarray(stroke, dtype=float) for stroke in strokes])
    centre = points.mean(axis=0)
    factor = rng.uniform(*scale)
    angle = np.radians(rng.uniform(-max_rotation_deg, max_rotation_deg))
    rotation = factor * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    moved = [(np.asarray(stroke, dtype=float) - centre) @ rotation.T for stroke in strokes]
    low = np.concatenate(moved).min(axis=0)
    high = np.concatenate(moved).max(axis=0)
    lowest = CANVAS_MARGIN - low
    highest = CANVAS_HEIGHT - CANVAS_MARGIN - high
    offset = rng.uniform(lowest, np.maximum(lowest, highest))
    return [(stroke + offset).tolist() for stroke in moved]


def digit_png(digit, style="transparent", line_width=PEN_WIDTH, rng=None):
    """Return a 280×280 canvas PNG of `digit`, varied at random when `rng` is given."""
    strokes = DIGIT_STROKES[digit]
    if rng is not None:
        strokes = vary_strokes(strokes, rng)
    return draw_png(strokes, style, line_width=line_width)


NUMBER_GAP = 40
"""Drawing units between the points of two neighbouring digits of a composed number: over twice the pen, so they never touch."""


def number_strokes(digits):
    """Return (strokes, (width, height)) of `digits` (e.g. "4271") written left to right, one unit a pixel.

    Each digit is DIGIT_STROKES's drawing, moved so that its points start
    NUMBER_GAP units after the previous digit's; the surface has a margin
    of NUMBER_GAP on both sides. Points are [x, y] lists in drawing units.
    """
    strokes, left = [], NUMBER_GAP
    for digit in digits:
        drawing = [np.asarray(stroke, dtype=float) for stroke in DIGIT_STROKES[int(digit)]]
        xs = np.concatenate([stroke[:, 0] for stroke in drawing])
        shift = np.array([left - xs.min(), 0.0])
        strokes += [(stroke + shift).tolist() for stroke in drawing]
        left += xs.max() - xs.min() + NUMBER_GAP
    return strokes, (math.ceil(left), CANVAS_HEIGHT)


def number_png(digits, style="transparent", line_width=PEN_WIDTH):
    """Return a PNG of `digits` (e.g. "4271") drawn as `number_strokes` places them, 280 units high."""
    strokes, size = number_strokes(digits)
    return draw_png(strokes, style, line_width=line_width, size=size)
