"""What every kind of model returns when it reads a batch of digit fields."""

from typing import NamedTuple

import numpy as np


class Prediction(NamedTuple):
    """What a model says about a batch of n digit fields."""

    probabilities: np.ndarray
    """Shape (n, 10), float32: each digit's probability, rows summing to 1."""

    is_digit: np.ndarray
    """Shape (n,), bool: False where the field does not look like any digit."""

    digit_share: np.ndarray
    """Shape (n,), float32 in [0, 1]: how much of the model's belief says the field is one digit at all.

    `is_digit` is this compared with a calibrated threshold; the segmenters
    weigh it as it is, since a wrong cut (half a digit, two touching digits)
    lowers it well before it crosses the threshold. 1 for a model that knows
    only digits."""
