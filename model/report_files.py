"""The evaluation report's folder and file names: what `python -m model.evaluate` writes and the /model page reads.

Kept apart from the writer so that the web app can find the report without
importing the drawing code.
"""

from pathlib import Path

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
