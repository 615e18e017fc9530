"""The evaluation report's files and how its figures are shown: shared by its writer and the /model page.

`python -m model.evaluation.evaluate` writes the report; the web app reads it
through this module alone, without importing the evaluation code.
"""

import math
from pathlib import Path

import numpy as np

from model.formatting import is_number

DEFAULT_REPORT_DIR = Path(__file__).resolve().parent / "report"
"""Where the committed model's report lives, read by the /model page."""

REPORT_FORMAT = "digit-recogniser evaluation report"
"""The "format" field of report.json, naming what kind of file it is."""

REPORT_VERSION = 1
"""Bumped whenever a key of report.json changes meaning or disappears."""

REPORT_JSON = "report.json"
LEARNING_CURVES_PNG = "learning_curves.png"
MISCLASSIFIED_PNG = "misclassified.png"
FIRST_LAYER_WEIGHTS_PNG = "first_layer_weights.png"
CONFUSION_MATRIX_PNG = "confusion_matrix.png"
"""Stable file names inside the report folder."""

REPORT_PICTURES = {
    "learning_curves": LEARNING_CURVES_PNG,
    "misclassified": MISCLASSIFIED_PNG,
    "first_layer_weights": FIRST_LAYER_WEIGHTS_PNG,
    "confusion_matrix": CONFUSION_MATRIX_PNG,
}
"""The pictures by name, as report.json lists them under "images"."""


def per_digit_accuracy(confusion):
    """Return the accuracy on each true class, shape (n_classes,), NaN for a class without samples."""
    samples = confusion.sum(axis=1)
    result = np.full(len(confusion), np.nan)
    np.divide(np.diag(confusion), samples, out=result, where=samples > 0)
    return result


def confusion_shades(confusion):
    """Return how dark each cell of a confusion heat map is, shape (n_classes, n_classes), in [0, 1].

    Right answers (the diagonal) are shaded by their share of the row; wrong
    ones relative to the most frequent confusion, so that a handful of
    errors still shows beside a thousand right answers. An empty row is 0.
    """
    confusion = np.asarray(confusion)
    errors = confusion.astype(np.float64)
    np.fill_diagonal(errors, 0)
    worst = errors.max()
    shades = errors / worst if worst else errors
    np.fill_diagonal(shades, np.nan_to_num(per_digit_accuracy(confusion)))
    return shades


def most_accepted_characters(others_most_accepted):
    """Return the characters a not-a-digit head most often took for digits, most accepted first.

    others_most_accepted : {character: {"n": samples, "rejected": share}}, as
                           model.training.measure records it
    Returns a list of (character, samples, share rejected); ties go to the
    character with more samples, then to the character itself. Entries
    without a finite share come last.
    """
    rows = [
        (character, _count(entry.get("n")), entry.get("rejected"))
        for character, entry in others_most_accepted.items()
        if isinstance(entry, dict)
    ]
    rows.sort(key=lambda row: (_finite_or_inf(row[2]), -row[1], row[0]))
    return rows


def _count(value):
    """Return value as a whole count, 0 when it is not a finite number."""
    return int(value) if is_number(value) else 0


def _finite_or_inf(value):
    return value if is_number(value) else math.inf
