"""Find the digits of a drawing that may hold several: a whole number on one canvas.

A first cut: each connected mark of ink is a candidate, and marks whose
columns overlap (a 5's detached bar above its body, a 4 drawn in two
strokes) are one digit. Digits are returned in reading order, left to right.
"""

from typing import NamedTuple

import numpy as np
from scipy import ndimage

from model.preprocess import INK_NOISE_LEVEL, InputImageError, NoInkError, digit_field

EIGHT_NEIGHBOURS = np.ones((3, 3), dtype=bool)
"""Pixels touching by a corner belong to the same mark."""


class TooManyDigitsError(InputImageError):
    """The drawing holds more separate marks than the reader accepts."""


class Region(NamedTuple):
    """One digit of a drawing."""

    box: tuple
    """(x, y, width, height) of the digit's ink, in pixels of the drawing."""

    field: np.ndarray
    """Shape (28, 28), float32: the network's input for this digit alone."""


def find_digits(ink, classify, max_digits):
    """Return the digits of a drawing as Regions, in reading order.

    ink        : ndarray of shape (height, width), float32 in [0, 1], ink = 1
    classify   : function from fields of shape (n, 28, 28) to probabilities (n, 10)
    max_digits : more separate marks than this raise TooManyDigitsError
    Raises NoInkError when the drawing is blank.
    """
    labels, n_marks = ndimage.label(ink > INK_NOISE_LEVEL, structure=EIGHT_NEIGHBOURS)
    if n_marks == 0:
        raise NoInkError("no ink found: the image is blank, draw a digit first")
    slices = ndimage.find_objects(labels)
    groups = _group_overlapping_columns(slices)
    if len(groups) > max_digits:
        raise TooManyDigitsError(
            f"the drawing holds {len(groups)} separate marks; at most {max_digits} digits are read"
        )
    return [_region(ink, labels, slices, group) for group in groups]


def _group_overlapping_columns(slices):
    """Return lists of mark numbers (1-based) whose column spans overlap, left to right."""
    order = sorted(range(len(slices)), key=lambda i: slices[i][1].start)
    groups, right = [], -1
    for i in order:
        columns = slices[i][1]
        if groups and columns.start < right:
            groups[-1].append(i + 1)
            right = max(right, columns.stop)
        else:
            groups.append([i + 1])
            right = columns.stop
    return groups


def _region(ink, labels, slices, group):
    """Return the Region of the marks in `group`, keeping only their own ink."""
    top = min(slices[i - 1][0].start for i in group)
    bottom = max(slices[i - 1][0].stop for i in group)
    left = min(slices[i - 1][1].start for i in group)
    right = max(slices[i - 1][1].stop for i in group)
    window = (slice(top, bottom), slice(left, right))
    own = np.where(np.isin(labels[window], group), ink[window], 0).astype(np.float32)
    return Region((left, top, right - left, bottom - top), digit_field(own))
