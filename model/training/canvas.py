"""Canvas handwriting for training: training writers' pen strokes, varied afresh and drawn as the page draws them.

Pen trajectories allow far more variation than pixels: each time a drawing
is used, its strokes are rotated, slanted and stretched as a whole, each
stroke is nudged and turned a little on its own, and it is drawn a little larger or
smaller with a random pen width from the range the benchmarks measure, then
prepared by the served pipeline (`model.preprocess.digit_field`).

Drawing is the trainer's slowest step, so it is made cheap: at half the
canvas's resolution with 2× supersampling (the field is 20 px high whatever
the canvas, and the difference is a hundredth of the ink), on a canvas just
the size of the drawing.
"""

import zlib

import numpy as np
from PIL import Image, ImageDraw

from model.constants import CANVAS_HEIGHT, DTYPE, IMAGE_SIDE, MAX_INTENSITY
from model.preprocess import NoInkError, digit_field
from model.training.handwriting import is_measuring_writer

CALIBRATION_WRITER_SHARE = 5
"""One training writer in this many is held out from fitting: the calibration and model-selection fold."""

RENDER_SCALE = 0.5
RENDER_SUPERSAMPLING = 2
"""Drawing units to pixels, and the supersampling that anti-aliases the edges."""

PEN_WIDTHS = (8.0, 28.0)
"""Pen widths in drawing units, thin pen to thick finger, as bench.realworld measures them."""

SIZE_SIGMA = 0.15
"""Spread of the log of a drawing's size change: the files already place drawings at 0.45 to 0.8 of the canvas."""

MAX_WIDTH = 0.95
"""Widest a drawing may be, as a share of the canvas: wider ones are shrunk."""

ROTATION_DEGREES = 6.0
SLANT = 0.25
ASPECT_SIGMA = 0.12
STROKE_SHIFT = 0.04
STROKE_ROTATION_DEGREES = 5.0
"""Variation of a drawing: rotation (sd, degrees), slant (shear, ±), log of the width's
stretch (sd); and of each stroke of several: shift (sd, share of the height) and rotation (sd)."""

CLIP_SIGMAS = 2.0
"""Normal draws are clipped at this many standard deviations, so that no variation is wild."""

PLAIN = {"size": 0.0, "rotation": 0.0, "slant": 0.0, "aspect": 0.0, "stroke_shift": 0.0, "stroke_rotation": 0.0}
"""No variation at all: the drawing as written (calibration and measuring)."""

VARIED = {
    "size": SIZE_SIGMA,
    "rotation": ROTATION_DEGREES,
    "slant": SLANT,
    "aspect": ASPECT_SIGMA,
    "stroke_shift": STROKE_SHIFT,
    "stroke_rotation": STROKE_ROTATION_DEGREES,
}


def is_calibration_writer(writer):
    """Return whether a training writer is held out from fitting, for calibration and choosing the epoch.

    A hash of its own (salted) so that the fold is independent of `is_measuring_writer`.
    """
    return zlib.crc32(f"calibration/{writer}".encode("utf-8")) % CALIBRATION_WRITER_SHARE == 0


def split_training_writers(samples):
    """Return (fitting, calibration) samples of the training writers; measuring writers' are dropped."""
    fitting, calibration = [], []
    for sample in samples:
        writer = sample.get("writer") or ""
        if is_measuring_writer(writer):
            continue
        (calibration if is_calibration_writer(writer) else fitting).append(sample)
    return fitting, calibration


def _clipped_normal(rng, sigma, size=None):
    return np.clip(rng.normal(0.0, 1.0, size), -CLIP_SIGMAS, CLIP_SIGMAS) * sigma


def _rotation(degrees):
    angle = np.deg2rad(degrees)
    return np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])


def vary(strokes, rng, variation=VARIED):
    """Return the strokes varied at random: each stroke nudged and turned, then the whole rotated, slanted, stretched.

    strokes : list of strokes, each a sequence of (x, y) points
    Returns a list of float ndarrays of shape (n_points, 2), in drawing units, not yet placed.
    """
    parts = [np.asarray(stroke, dtype=np.float64).reshape(-1, 2) for stroke in strokes]
    points = np.concatenate(parts)
    height = max(np.ptp(points[:, 1]), 1.0)
    if len(parts) > 1 and (variation["stroke_shift"] or variation["stroke_rotation"]):
        shifts = _clipped_normal(rng, variation["stroke_shift"] * height, (len(parts), 2))
        turns = _clipped_normal(rng, variation["stroke_rotation"], len(parts))
        parts = [
            (part - part.mean(axis=0)) @ _rotation(turn).T + part.mean(axis=0) + shift
            for part, shift, turn in zip(parts, shifts, turns)
        ]
    shear = np.array([[1.0, -rng.uniform(-1, 1) * variation["slant"]], [0.0, 1.0]])
    stretch = np.diag([np.exp(_clipped_normal(rng, variation["aspect"])), 1.0])
    transform = stretch @ shear @ _rotation(_clipped_normal(rng, variation["rotation"]))
    return [part @ transform.T for part in parts]


def draw(parts, size_change, pen_width):
    """Return the ink of strokes grown by `size_change` and drawn with the given pen, float32 in [0, 1].

    parts : list of ndarray of shape (n_points, 2), in drawing units
    A drawing never grows past MAX_WIDTH of the canvas. The canvas is just
    the size of the drawing plus the pen, at RENDER_SCALE.
    """
    points = np.concatenate(parts)
    low = points.min(axis=0)
    size = np.maximum(points.max(axis=0) - low, 1e-6)
    scale = min(size_change, MAX_WIDTH * CANVAS_HEIGHT / size.max())
    pixels = scale * RENDER_SCALE * RENDER_SUPERSAMPLING
    pen = max(1, round(pen_width * RENDER_SCALE * RENDER_SUPERSAMPLING))
    margin = pen
    side = np.ceil(size * pixels).astype(int) + 2 * margin + 1
    side += (-side) % RENDER_SUPERSAMPLING
    canvas = Image.new("L", (int(side[0]), int(side[1])), 0)
    painter = ImageDraw.Draw(canvas)
    radius = pen / 2 - 0.5
    for part in parts:
        xy = (part - low) * pixels + margin
        line = [tuple(point) for point in xy]
        if len(line) > 1:
            painter.line(line, fill=MAX_INTENSITY, width=pen)
        for x, y in line:
            painter.ellipse((x - radius, y - radius, x + radius, y + radius), fill=MAX_INTENSITY)
    small = canvas.resize((canvas.width // RENDER_SUPERSAMPLING, canvas.height // RENDER_SUPERSAMPLING),
                          Image.Resampling.BOX)
    return np.asarray(small, dtype=DTYPE) / DTYPE(MAX_INTENSITY)


def fields(drawings, rng, variation=VARIED, pen_widths=PEN_WIDTHS):
    """Return the network's inputs for drawings, each varied afresh, shape (n, 28, 28), float32.

    drawings   : list of stroke lists
    pen_widths : (low, high) of the uniform pen width, in drawing units; a
                 single width when low == high
    A drawing with no ink (a tap too small to see) gives an empty field.
    """
    out = np.zeros((len(drawings), IMAGE_SIDE, IMAGE_SIDE), dtype=DTYPE)
    widths = rng.uniform(*pen_widths, len(drawings))
    sizes = np.exp(_clipped_normal(rng, variation["size"], len(drawings)))
    for i, strokes in enumerate(drawings):
        try:
            out[i] = digit_field(draw(vary(strokes, rng, variation), sizes[i], widths[i]))
        except NoInkError:
            continue
    return out
