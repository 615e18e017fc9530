"""The digit recogniser's model: network, data, preprocessing and training.

This package knows nothing of the web layer; `app/` imports it, never the
other way round, and reaches a trained model only through `load`.

The model protocol
------------------
`load(path)` returns an object of the kind its file names, which offers:

- ``recognise(images)`` -> `Prediction`: for a batch of digit fields,
  images of shape (n, 28, 28) or (n, 784), float32 in [0, 1], ink = 1;
- ``predict_proba(images)`` -> ndarray of shape (n, 10): the digits' probabilities;
- ``version``: a short id of the weights, computed once when the file is read;
- ``describe()`` -> dict: plain data for the /model page (kind, version,
  architecture, parameter count, training metadata).
"""

from pathlib import Path
from typing import NamedTuple

import numpy as np

IMAGE_SIDE = 28
"""Side of the square images the network reads, as in MNIST."""

N_PIXELS = IMAGE_SIDE * IMAGE_SIDE
"""Length of a flattened input image: the network's input width."""

N_CLASSES = 10
"""The digits 0 to 9."""

CANVAS_HEIGHT = 280
"""Height of the page's drawing surface in drawing units, and of the UNIPEN strokes' canvas."""

PEN_WIDTH = 18
"""Pen width of the page and of the UNIPEN recipe, in drawing units (chosen by measurement)."""

DTYPE = np.float32
"""Floating type of images, weights and all the arithmetic."""

DEFAULT_MODEL_PATH = Path(__file__).resolve().parent / "weights.npz"
"""The committed, trained model that the app serves unless told otherwise."""


class Prediction(NamedTuple):
    """What a model says about a batch of n digit fields."""

    probabilities: np.ndarray
    """Shape (n, 10), float32: each digit's probability, rows summing to 1."""

    is_digit: np.ndarray
    """Shape (n,), bool: False where the field does not look like any digit."""


from model.modelfile import ModelFileError, read_model_file  # noqa: E402 - the kinds import the constants above
from model.network import Network  # noqa: E402

MODEL_KINDS = {
    "mlp": Network,
}
"""The class that reads each `kind` of model file: one line per kind of network."""


def load(path=DEFAULT_MODEL_PATH):
    """Read a model file and return its model, frozen and ready to serve.

    Raises ModelFileError naming the path and the problem when the file is
    missing, malformed, or of a kind this code does not know.
    """
    kind, arrays, metadata = read_model_file(path)
    if kind not in MODEL_KINDS:
        raise ModelFileError(path, f"unknown model kind {kind!r} (known: {', '.join(sorted(MODEL_KINDS))})")
    return MODEL_KINDS[kind].from_arrays(path, arrays, metadata)
