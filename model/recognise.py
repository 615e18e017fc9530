"""From uploaded image bytes to what the drawing says: the path every request takes.

    ink_from_bytes → one field for the whole drawing (a digit)
                   → find_digits → one field per digit (a number)
    → one batched forward pass through the model

The results are plain data (NumPy arrays and tuples), for the web layer to
turn into JSON; input problems are raised as `InputImageError` subclasses.
"""

from typing import NamedTuple

import numpy as np

from model.preprocess import DEFAULT_MAX_PIXELS, INK_NOISE_LEVEL, crop_box, digit_field, ink_from_bytes
from model.segment import TooManyDigitsError, find_digits
from model.strokes import find_digits_by_strokes

DEFAULT_MAX_DIGITS = 12
"""Most separate marks read as one number; more is refused rather than guessed."""


class DigitReading(NamedTuple):
    """One digit as the model read it."""

    box: tuple
    """(x, y, width, height) of its ink, in pixels of the uploaded image."""

    field: np.ndarray
    """Shape (28, 28), float32 in [0, 1]: the network's input."""

    probabilities: np.ndarray
    """Shape (10,), float32: the probability of each digit."""

    is_digit: bool
    """False when the mark does not look like any digit."""


class DigitAnswer(NamedTuple):
    """The whole drawing read as one digit."""

    digit: DigitReading
    several_digits: bool
    """True when the drawing holds separate marks that read as several digits."""


def recognise_number(data, model, max_pixels=DEFAULT_MAX_PIXELS, max_digits=DEFAULT_MAX_DIGITS,
                     strokes=None):
    """Read every digit of a drawing; return a list of DigitReading in reading order.

    strokes : optional list of (k, 2) arrays, the pen strokes in pixels of the
    image, in drawing order; they say which ink belongs together, and the
    pixels decide when they cannot (see model/strokes.py).
    Raises NoInkError for a blank drawing, TooManyDigitsError over `max_digits`
    marks, and the decoding errors of `ink_from_bytes`.
    """
    ink = ink_from_bytes(data, max_pixels)
    regions = _find_digits(ink, model, max_digits, strokes)
    boxes = [region.box for region in regions]
    return _readings(model, boxes, np.stack([region.field for region in regions]))


def recognise_digit(data, model, max_pixels=DEFAULT_MAX_PIXELS, max_digits=DEFAULT_MAX_DIGITS,
                    strokes=None):
    """Read a whole drawing as one digit; return a DigitAnswer.

    The digit comes from all the ink together, as MNIST's digits were made;
    the drawing is also segmented, so that a number drawn where one digit
    was asked for can be flagged rather than read as one confident digit.
    """
    ink = ink_from_bytes(data, max_pixels)
    field = digit_field(ink)
    (reading,) = _readings(model, [crop_box(ink)], field[np.newaxis])
    return DigitAnswer(reading, _holds_several_digits(ink, model, max_digits, strokes))


def _find_digits(ink, model, max_digits, strokes):
    """Return the Regions of the digits: by the strokes when they say, else by the pixels."""
    regions = None
    if strokes:
        regions = find_digits_by_strokes(ink, strokes, model.recognise, max_digits)
    if regions is None:
        regions = find_digits(ink, model.recognise, max_digits)
    return regions


def _holds_several_digits(ink, model, max_digits, strokes=None):
    """Return whether the drawing holds separate marks that read as several digits.

    Separate digits leave blank columns between them; most drawings of one
    digit have none, and for those the segmenter need not run at all
    (unless strokes were sent: then they decide).
    """
    if strokes:
        regions = find_digits_by_strokes(ink, strokes, model.recognise, max_digits)
        if regions is not None:
            return len(regions) > 1
    columns = np.flatnonzero((ink > INK_NOISE_LEVEL).any(axis=0))
    if columns[-1] - columns[0] + 1 == columns.size:
        return False
    try:
        return len(find_digits(ink, model.recognise, max_digits)) > 1
    except TooManyDigitsError:
        return True


def _readings(model, boxes, fields):
    """Run the model once over `fields`, shape (n, 28, 28); return n DigitReadings."""
    prediction = model.recognise(fields)
    return [
        DigitReading(box, field, probabilities, bool(is_digit))
        for box, field, probabilities, is_digit in zip(
            boxes, fields, prediction.probabilities, prediction.is_digit
        )
    ]
