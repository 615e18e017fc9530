"""What every kind of model returns when it reads a batch of digit fields."""

from typing import NamedTuple

import numpy as np


class Prediction(NamedTuple):
    """What a model says about a batch of n digit fields."""

    probabilities: np.ndarray
    """Shape (n, 10), float32: each digit's probability, rows summing to 1."""

    is_digit: np.ndarray
    """Shape (n,), bool: False where the field does not look like any digit."""
