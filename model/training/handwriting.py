"""Real handwriting as pen strokes: reading the UNIPEN files, splitting them by writer, drawing them.

The UNIPEN samples in ../shared/handwriting are pen trajectories in the
coordinates of the page's canvas, 280 units high. They serve three purposes
that must not leak into one another: training (the rejection of non-digits),
tuning (segmentation of numbers) and measuring. `is_measuring_writer` sets a
fifth of the writers aside, chosen by a hash of their id, so every module
agrees on who is held out without a list to keep in step; their samples are
for measuring only, never for training or tuning.

`render_strokes` draws strokes as the page's canvas does: a polyline with
round caps and joins and anti-aliased edges, imitated by drawing at 4× the
size and shrinking.
"""

import gzip
import json
import zlib

from PIL import Image, ImageDraw

from model.constants import CANVAS_HEIGHT, MAX_INTENSITY, PEN_WIDTH

SUPERSAMPLING = 4
"""Drawing at 4× and shrinking gives edges anti-aliased like a browser's."""

MEASURING_WRITER_SHARE = 5
"""One writer in this many is held out for measuring (a hash of the id decides)."""


def load_handwriting(path):
    """Return the samples of a UNIPEN JSON Lines file: dicts with "label", "strokes", "writer", "style"."""
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def is_measuring_writer(writer):
    """Return whether the writer's samples are held out for measuring, never trained or tuned on."""
    return zlib.crc32(writer.encode("utf-8")) % MEASURING_WRITER_SHARE == 0


def split_by_writer(samples):
    """Return (training, measuring): the samples of writers kept for training and tuning, and the rest."""
    training, measuring = [], []
    for sample in samples:
        (measuring if is_measuring_writer(sample["writer"]) else training).append(sample)
    return training, measuring


def render_strokes(strokes, line_width=PEN_WIDTH, size=(CANVAS_HEIGHT, CANVAS_HEIGHT)):
    """Return the ink of a drawing as a mode "L" image of `size` (width, height), 255 = full ink.

    strokes : list of strokes, each a list of (x, y) points in drawing units;
              a stroke of one point is a tap and draws a dot.
    """
    width, height = size
    big = Image.new("L", (width * SUPERSAMPLING, height * SUPERSAMPLING), 0)
    pen = ImageDraw.Draw(big)
    pen_pixels = round(line_width * SUPERSAMPLING)
    radius = pen_pixels / 2 - 0.5
    for stroke in strokes:
        points = [(x * SUPERSAMPLING - 0.5, y * SUPERSAMPLING - 0.5) for x, y in stroke]
        if len(points) > 1:
            pen.line(points, fill=MAX_INTENSITY, width=pen_pixels)
        for x, y in points:
            pen.ellipse((x - radius, y - radius, x + radius, y + radius), fill=MAX_INTENSITY)
    return big.resize((width, height), Image.Resampling.LANCZOS)
