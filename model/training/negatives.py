"""Drawings that are not digits, generated as pen strokes, for training the not-a-digit head.

Letters and symbols written by people are the main negatives; these add
what people also draw on a digit pad and no data set holds: scribbles,
crossings-out, a few random strokes, several digits side by side, a digit
with another character's stroke beside it, and single strokes of
multi-stroke digits. Every drawing is placed on the page's canvas as the
UNIPEN recipe places a digit (height 0.45 to 0.8 of the canvas, at least a
pen's reach from the border), so it goes through the same renderer and
preprocessing as the real ones.

A part of a digit that is itself a fair digit is not a negative: a straight
steep stroke reads as a 1 (the stem of a two-stroke 4), a closed loop as a
0 (the loop of a two-stroke 9), and the main stroke of a 1, 5, 7, ... is
that digit without its bar. Those parts are left out.

All randomness comes from the `np.random.Generator` passed in.
"""

import numpy as np

from model.constants import CANVAS_HEIGHT

BORDER = 13
"""Closest a point may come to the canvas border, as in the UNIPEN recipe (room for the pen)."""

HEIGHT_RANGE = (0.45, 0.8)
"""Height of a drawing as a fraction of the canvas, as in the UNIPEN recipe."""

SCRIBBLE_POINTS = (6, 14)
"""Range of control points a scribble wanders through."""

ZIGZAG_TURNS = (5, 10)
"""Range of turning points of a crossing-out (four make a Z, which reads as a 2)."""

RANDOM_STROKES = (2, 5)
"""Range of separate strokes in a random drawing (one alone could be a 1)."""

SIDE_BY_SIDE = (2, 4)
"""Range of digits written next to each other."""

DIGIT_GAP = (10, 40)
"""Range of the gap between digits written side by side, at a digit height of `DIGIT_HEIGHT`."""

DIGIT_HEIGHT = 100
"""Height digits are scaled to before they are put side by side."""

MARK_SIZE = (0.3, 0.8)
"""Range of the size of an extra mark, as a fraction of the digit's height."""

MARK_GAP = (5, 30)
"""Range of the gap between a digit and a mark written beside it."""

CURVE_STEPS = 8
"""Points drawn between two control points of a smooth curve."""

STRAIGHTNESS = 0.15
"""A stroke straying less than this share of its length from its chord is straight."""

TOUCHING_GAP = (-25, 3)
"""Space between two touching digits, in drawing units at DIGIT_HEIGHT: negative overlaps."""

CUT_AT = (0.35, 0.65)
HALF_DIGIT_ATTEMPTS = 5
"""Where a wrong cut crosses a digit, as a share of its height or width."""

DASH_LENGTH = (40, 120)
DASH_TILT = 0.08
"""A dash's length in drawing units, and the spread of its slope."""

STEEPNESS = 0.6
"""A stroke whose width is less than this share of its height is steep."""

CLOSURE = 0.35
"""A stroke whose ends are closer than this share of its size is a closed loop."""

DIGITS_WHOSE_MAIN_STROKE_READS_AS_ITSELF = frozenset({0, 1, 2, 3, 5, 6, 7, 9})
"""Digits whose longest stroke, drawn alone, still reads as the digit (a 7 without its bar)."""


def place(strokes, rng):
    """Scale strokes uniformly to a random height and put them at a random place on the canvas.

    strokes : list of ndarray of shape (n_points, 2), x and y in any units
    Returns a list of strokes, each a list of [x, y] in canvas units, rounded to 0.1.
    """
    points = np.concatenate(strokes)
    low = points.min(axis=0)
    size = np.maximum(points.max(axis=0) - low, np.finfo(np.float32).eps)
    room = CANVAS_HEIGHT - 2 * BORDER
    scale = min(rng.uniform(*HEIGHT_RANGE) * CANVAS_HEIGHT / size[1], room / size[0], room / size[1])
    extent = size * scale
    offset = BORDER + rng.uniform(0, 1, 2) * (room - extent)
    return [np.round((stroke - low) * scale + offset, 1).tolist() for stroke in strokes]


def smooth_curve(points, steps=CURVE_STEPS):
    """Return a Catmull-Rom curve through the control points, shape (n_points, 2)."""
    P = np.asarray(points, dtype=float)
    P = np.vstack([P[0], P, P[-1]])
    t = np.linspace(0, 1, steps, endpoint=False)[:, None]
    pieces = []
    for i in range(1, len(P) - 2):
        p0, p1, p2, p3 = P[i - 1], P[i], P[i + 1], P[i + 2]
        pieces.append(
            0.5 * (2 * p1 + (p2 - p0) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2 + (3 * p1 - p0 - 3 * p2 + p3) * t**3)
        )
    pieces.append(P[-2][None])
    return np.concatenate(pieces)


def scribble(rng):
    """Return one stroke wandering smoothly through many random points."""
    n_points = rng.integers(*SCRIBBLE_POINTS)
    points = rng.uniform(0, 1, (n_points, 2)) * [rng.uniform(0.4, 1.2), 1]
    return place([smooth_curve(points)], rng)


def zigzag(rng):
    """Return a back-and-forth stroke, as when crossing something out."""
    n_turns = rng.integers(*ZIGZAG_TURNS)
    across = np.arange(n_turns) % 2 + rng.normal(0, 0.08, n_turns)
    along = np.linspace(0, 1, n_turns) + rng.normal(0, 0.03, n_turns)
    points = np.stack([across, along], axis=1)
    if rng.random() < 0.5:
        points = points[:, ::-1]
    return place([points], rng)


def random_strokes(rng):
    """Return a few separate short strokes, straight or bent, at random."""
    n_strokes = rng.integers(*RANDOM_STROKES)
    return place([smooth_curve(rng.uniform(0, 1, (rng.integers(2, 4), 2))) for _ in range(n_strokes)], rng)


def side_by_side(digits, rng, count=None, gaps=DIGIT_GAP):
    """Return two or three digit samples written next to each other, as one drawing.

    count : how many digits (None: at random from SIDE_BY_SIDE); gaps: (low, high) of the
            space between them in DIGIT_HEIGHT units' drawing units, negative to overlap
    """
    picks = rng.choice(len(digits), count or rng.integers(*SIDE_BY_SIDE), replace=False)
    strokes, x = [], 0.0
    for pick in picks:
        parts = [np.asarray(stroke, dtype=float) for stroke in digits[pick]["strokes"]]
        points = np.concatenate(parts)
        low, high = points.min(axis=0), points.max(axis=0)
        scale = DIGIT_HEIGHT / max(high[1] - low[1], 1)
        shift = np.array([x, rng.normal(0, DIGIT_HEIGHT / 12)])
        strokes.extend((part - low) * scale + shift for part in parts)
        x += (high[0] - low[0]) * scale + rng.uniform(*gaps)
    return place(strokes, rng)


def with_mark(digits, others, rng):
    """Return a digit with one stroke of another character beside it.

    Not across it: a mark through a digit often still reads as that digit (a 7 with a bar).
    """
    parts = [np.asarray(stroke, dtype=float) for stroke in digits[rng.integers(len(digits))]["strokes"]]
    points = np.concatenate(parts)
    low, high = points.min(axis=0), points.max(axis=0)
    size = high - low
    other = others[rng.integers(len(others))]["strokes"]
    mark = np.asarray(other[rng.integers(len(other))], dtype=float)
    mark_low = mark.min(axis=0)
    mark_size = mark.max(axis=0) - mark_low
    mark_scale = rng.uniform(*MARK_SIZE) * size[1] / max(mark_size.max(), 1)
    top = low[1] + rng.uniform(0, 0.5) * size[1]
    if rng.random() < 0.5:
        offset = [high[0] + rng.uniform(*MARK_GAP), top]
    else:
        offset = [low[0] - rng.uniform(*MARK_GAP) - mark_size[0] * mark_scale, top]
    return place(parts + [(mark - mark_low) * mark_scale + offset], rng)


def is_fair_digit_part(stroke):
    """Return whether one stroke alone reads as a digit: a straight steep line (1) or a closed loop (0)."""
    stroke = np.asarray(stroke, dtype=float)
    chord = stroke[-1] - stroke[0]
    length = np.hypot(*chord)
    size = np.hypot(*(stroke.max(axis=0) - stroke.min(axis=0)))
    if length < CLOSURE * size:
        return True
    strays = np.abs(chord[0] * (stroke[:, 1] - stroke[0, 1]) - chord[1] * (stroke[:, 0] - stroke[0, 0])) / length
    return bool(strays.max() < STRAIGHTNESS * length and abs(chord[0]) < STEEPNESS * abs(chord[1]))


def partial_strokes(digits):
    """Return, as drawings, the single strokes of multi-stroke digits that are not a fair digit alone.

    Strokes keep their place on the canvas: a part is drawn where the writer put it.
    """
    drawings = []
    for digit in digits:
        strokes = digit["strokes"]
        if len(strokes) < 2:
            continue
        lengths = [np.hypot(*np.diff(np.asarray(stroke, dtype=float), axis=0).T).sum() for stroke in strokes]
        longest = int(np.argmax(lengths))
        for i, stroke in enumerate(strokes):
            if len(stroke) < 3 or is_fair_digit_part(stroke):
                continue
            if i == longest and digit["label"] in DIGITS_WHOSE_MAIN_STROKE_READS_AS_ITSELF:
                continue
            drawings.append([stroke])
    return drawings


def touching(digits, rng):
    """Return two digits written so close that they touch or overlap: what a missed cut leaves."""
    return side_by_side(digits, rng, count=2, gaps=TOUCHING_GAP)


def half_digit(digits, rng, attempts=HALF_DIGIT_ATTEMPTS):
    """Return the part of a digit on one side of a cut through it: what a wrong cut leaves.

    The cut runs across the digit at a random height or width between a third and two thirds;
    each stroke keeps its runs of points on the kept side. A part that is itself a fair digit
    (a straight steep line, a loop) is drawn again; after `attempts` a dash is returned.
    """
    for _ in range(attempts):
        strokes = [np.asarray(stroke, dtype=float) for stroke in digits[rng.integers(len(digits))]["strokes"]]
        points = np.concatenate(strokes)
        axis = int(rng.integers(2))
        low, high = points[:, axis].min(), points[:, axis].max()
        cut = low + rng.uniform(*CUT_AT) * (high - low)
        keep_below = rng.random() < 0.5
        pieces = []
        for stroke in strokes:
            kept = (stroke[:, axis] < cut) == keep_below
            breaks = np.flatnonzero(np.diff(kept.astype(int))) + 1
            pieces.extend(stroke[run] for run in np.split(np.arange(len(stroke)), breaks)
                          if kept[run[0]] and len(run) > 2)
        if pieces and not (len(pieces) == 1 and is_fair_digit_part(pieces[0])):
            return place(pieces, rng)
    return dash(rng)


def dash(rng):
    """Return a short, nearly level stroke, as long as a digit is wide: a minus sign or a hyphen."""
    length = rng.uniform(*DASH_LENGTH)
    start = rng.uniform(BORDER, CANVAS_HEIGHT - BORDER - length, 2)
    end = start + [length, length * rng.normal(0, DASH_TILT)]
    middle = (start + end) / 2 + rng.normal(0, 1.0, 2)
    return [np.round(np.stack([start, middle, end]), 1).tolist()]


GENERATORS = {
    "scribble": lambda digits, others, rng: scribble(rng),
    "zigzag": lambda digits, others, rng: zigzag(rng),
    "random_strokes": lambda digits, others, rng: random_strokes(rng),
    "side_by_side": lambda digits, others, rng: side_by_side(digits, rng),
    "with_mark": with_mark,
    "touching": lambda digits, others, rng: touching(digits, rng),
    "half_digit": lambda digits, others, rng: half_digit(digits, rng),
    "dash": lambda digits, others, rng: dash(rng),
}
"""Kinds of generated negatives drawn at random, by name; each returns one drawing's strokes."""

KINDS = (*GENERATORS, "partial")
"""Every kind of generated negative; "partial" comes from the data, not at random."""


def generate(kind, count, digits, others, rng):
    """Return `count` drawings of one kind, each a list of strokes in canvas units.

    digits, others : UNIPEN samples (dicts with "strokes", "label") of training writers only
    For "partial", every usable part is returned, up to `count` of them, chosen at random.
    """
    if kind == "partial":
        parts = partial_strokes(digits)
        chosen = rng.permutation(len(parts))[:count]
        return [parts[i] for i in chosen]
    make = GENERATORS[kind]
    return [make(digits, others, rng) for _ in range(count)]
