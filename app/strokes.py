"""Read the optional pen strokes of a request: which ink belongs together, in drawing order.

The strokes come as JSON, the value of "strokes" in a JSON body or the text
of the form field `strokes`: a list of strokes, each a list of [x, y]
points in pixels of the image. The limits are checked before any point is
looked at, so a huge list costs no more than counting it.
"""

import json
import math

import numpy as np

from .errors import ApiError

STROKES_FIELD = "strokes"
"""Name of the JSON key, and of the form field, that carries the strokes."""

DEFAULT_MAX_STROKES = 200
"""Most strokes a request may send."""

DEFAULT_MAX_STROKE_POINTS = 20_000
"""Most points a request's strokes may hold in all."""

POINT_LENGTH = 2
"""A point is [x, y]."""

SHAPE = (
    f"'{STROKES_FIELD}' must be a list of strokes, each a list of [x, y] points "
    "(two finite numbers, pixels of the image)"
)


def strokes_from_text(text, max_strokes, max_points):
    """Parse the JSON text of the form field and return its strokes as `parse_strokes` does."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise ApiError(400, "invalid_strokes", f"The form field {SHAPE}: it is not JSON.") from None
    return parse_strokes(value, max_strokes, max_points)


def parse_strokes(value, max_strokes, max_points):
    """Return the strokes as a list of float64 arrays of shape (k, 2), or None when none were sent.

    Raises ApiError 422 too_many_strokes over `max_strokes` strokes or
    `max_points` points, and 400 invalid_strokes for anything else than a
    list of lists of two finite numbers.
    """
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(stroke, list) for stroke in value):
        raise ApiError(400, "invalid_strokes", f"{SHAPE}.")
    if len(value) > max_strokes:
        raise ApiError(
            422, "too_many_strokes",
            f"The drawing has {len(value):,} strokes; at most {max_strokes:,} are read (MAX_STROKES).",
        )
    points = sum(len(stroke) for stroke in value)
    if points > max_points:
        raise ApiError(
            422, "too_many_strokes",
            f"The strokes hold {points:,} points; at most {max_points:,} are read (MAX_STROKE_POINTS).",
        )
    return [_stroke(stroke) for stroke in value]


def _stroke(points):
    """Return one stroke as an array of shape (k, 2), or raise ApiError invalid_strokes."""
    if not points or not all(_is_point(point) for point in points):
        raise ApiError(400, "invalid_strokes", f"{SHAPE}; every stroke needs at least one point.")
    return np.array(points, dtype=np.float64)


def _is_point(point):
    """Return whether `point` is [x, y] of two finite numbers (booleans are not numbers here)."""
    return (isinstance(point, list) and len(point) == POINT_LENGTH
            and all(_is_finite_number(value) for value in point))


def _is_finite_number(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False
