"""Compose whole numbers from single handwritten digits, for the number benchmark and tests.

UNIPEN holds isolated digits only. A number is made of several digits by
one writer, scaled to one height with a little jitter, set on a drifting
baseline and spaced with realistic gaps; about one neighbouring pair in
eight touches or overlaps. Gaps are measured between the inks, not the
boxes, so shapes nest as in real writing (a 4 under the bar of a 7). The
surface is 280 units high, like the page's, and as wide as the number
needs. Everything is drawn from one seeded generator, so a fixed sample is
the same on every machine.
"""

import collections
from typing import NamedTuple

import numpy as np

from bench.support.drawing import STYLES, encode_image, encode_style
from model.constants import CANVAS_HEIGHT, PEN_WIDTH
from model.training.handwriting import render_strokes

NUMBER_LENGTHS = tuple(range(1, 9))
"""Numbers of 1 to 8 digits, taken in turn."""

DIGIT_HEIGHT = (0.35, 0.7)
"""Range of a number's digit height, as a fraction of the surface height."""

SIZE_JITTER = 0.08
"""Each digit's height varies by up to this fraction around the number's."""

BASELINE_DRIFT = 0.04
"""Each digit's baseline moves by up to this fraction of the height from the previous one's."""

INK_GAP = (0.06, 0.4)
"""Range of the blank between neighbouring inks, as a fraction of the digit height."""

TOUCHING_SHARE = 1 / 8
"""Share of neighbouring pairs that touch or overlap."""

TOUCH_DEPTH = (0.1, 0.8)
"""Range of the distance between the pen paths of a touching pair, in pen widths.

Below one pen width the inks meet; at 0.8 they surely join, not merely graze."""

MARGIN = (0.05, 0.3)
"""Range of the blank left and right of the number, as a fraction of the height, beyond the pen."""

POINT_SPACING = 2.0
"""Paths are sampled this densely (drawing units) when measuring the gap between inks."""


class ComposedNumber(NamedTuple):
    """A number written by one writer, as pen strokes on a surface 280 units high."""

    text: str
    strokes: list
    width: int
    touching: tuple
    """One flag per neighbouring pair: whether their inks touch or overlap."""
    writer: str
    style: str
    boxes: tuple
    """Each digit's path box (left, top, right, bottom) in drawing units, without the pen."""

    @property
    def has_touching(self):
        return any(self.touching)


def digits_by_writer(samples):
    """Return {writer: [samples]} in the order writers first appear."""
    writers = collections.defaultdict(list)
    for sample in samples:
        writers[sample["writer"]].append(sample)
    return dict(writers)


def _dense_points(strokes):
    """Return the points of the pen paths, shape (n_points, 2), at most POINT_SPACING apart."""
    pieces = []
    for stroke in strokes:
        points = np.asarray(stroke, dtype=np.float64).reshape(-1, 2)
        pieces.append(points[:1])
        for start, end in zip(points[:-1], points[1:]):
            steps = max(1, int(np.ceil(np.hypot(*(end - start)) / POINT_SPACING)))
            fractions = np.arange(1, steps + 1)[:, None] / steps
            pieces.append(start + fractions * (end - start))
    return np.concatenate(pieces)


def _contact_shift(left_points, right_points, distance):
    """Return how far right `right_points` must move so that no point comes nearer than `distance`.

    left_points, right_points : ndarrays of shape (n, 2) and (m, 2)
    Coming from far right, the first contact of points a and b happens at
    shift a_x - b_x + sqrt(distance² - (a_y - b_y)²) when their heights
    differ by less than `distance`; the largest such shift over all pairs
    is the first contact of the two paths.
    """
    dx = left_points[:, None, 0] - right_points[None, :, 0]
    dy = left_points[:, None, 1] - right_points[None, :, 1]
    reach = distance**2 - dy**2
    near = reach >= 0
    if not near.any():
        return left_points[:, 0].max() - right_points[:, 0].min() + distance
    return float((dx + np.sqrt(np.where(near, reach, 0)))[near].max())


def _scaled_digit(sample, height):
    """Return the sample's strokes scaled to `height` with the box's left and bottom at 0."""
    points = np.concatenate([np.asarray(stroke, dtype=np.float64).reshape(-1, 2)
                             for stroke in sample["strokes"]])
    left, top = points.min(axis=0)
    bottom = points[:, 1].max()
    scale = height / max(bottom - top, 1.0)
    return [(np.asarray(stroke, dtype=np.float64).reshape(-1, 2) - (left, bottom)) * scale
            for stroke in sample["strokes"]]


def _path_box(points):
    """Return (left, top, right, bottom) of points of shape (n, 2), rounded to 0.1."""
    return tuple(round(float(value), 1) for value in (*points.min(axis=0), *points.max(axis=0)))


def compose_number(writer_samples, length, rng, style=STYLES[0], pen_width=PEN_WIDTH):
    """Compose one number of `length` digits drawn from one writer's samples (with replacement).

    writer_samples : list of UNIPEN samples by one writer
    rng : numpy Generator; every random choice comes from it
    """
    chosen = [writer_samples[i] for i in rng.integers(len(writer_samples), size=length)]
    height = rng.uniform(*DIGIT_HEIGHT) * CANVAS_HEIGHT
    drift = np.cumsum(rng.uniform(-BASELINE_DRIFT, BASELINE_DRIFT, size=length)) * height
    touching = tuple(bool(flag) for flag in rng.random(length - 1) < TOUCHING_SHARE)

    digits = []
    right_points = None
    for position, sample in enumerate(chosen):
        digit_height = height * (1 + rng.uniform(-SIZE_JITTER, SIZE_JITTER))
        strokes = [stroke + (0, drift[position]) for stroke in _scaled_digit(sample, digit_height)]
        points = _dense_points(strokes)
        if right_points is None:
            shift = 0.0
        else:
            if touching[position - 1]:
                distance = pen_width * rng.uniform(*TOUCH_DEPTH)
            else:
                distance = pen_width + height * rng.uniform(*INK_GAP)
            shift = _contact_shift(right_points, points, distance)
        strokes = [stroke + (shift, 0) for stroke in strokes]
        right_points = points + (shift, 0)
        digits.append(strokes)

    every_point = np.concatenate([np.concatenate(strokes) for strokes in digits])
    low, high = every_point.min(axis=0), every_point.max(axis=0)
    left_margin, right_margin = pen_width + rng.uniform(*MARGIN, size=2) * height
    room = CANVAS_HEIGHT - pen_width - (high[1] - low[1])
    top = pen_width / 2 + rng.uniform(0, max(room, 0))
    offset = np.array([left_margin - low[0], top - low[1]])
    digits = [[stroke + offset for stroke in strokes] for strokes in digits]
    boxes = tuple(_path_box(np.concatenate(strokes)) for strokes in digits)
    return ComposedNumber(
        text="".join(str(sample["label"]) for sample in chosen),
        strokes=[np.round(stroke, 1).tolist() for strokes in digits for stroke in strokes],
        width=int(np.ceil(high[0] - low[0] + left_margin + right_margin)),
        touching=touching,
        writer=chosen[0]["writer"],
        style=style,
        boxes=boxes,
    )


def compose_numbers(samples, count, seed=0, lengths=NUMBER_LENGTHS, styles=STYLES):
    """Return `count` composed numbers, lengths and styles taken in turn, writers drawn at random.

    samples : UNIPEN digit samples (pass one side of `split_by_writer`)
    """
    rng = np.random.default_rng(seed)
    writers = digits_by_writer(samples)
    names = list(writers)
    numbers = []
    for index in range(count):
        writer = names[rng.integers(len(names))]
        numbers.append(compose_number(writers[writer], lengths[index % len(lengths)], rng,
                                      styles[index % len(styles)]))
    return numbers


def render_number(number, line_width=PEN_WIDTH):
    """Return the ink of a composed number as a mode "L" image, 255 = full ink."""
    return render_strokes(number.strokes, line_width, size=(number.width, CANVAS_HEIGHT))


def number_png(number, line_width=PEN_WIDTH):
    """Return the PNG bytes of a composed number in its style, as the page would upload it."""
    return encode_image(encode_style(render_number(number, line_width), number.style))
