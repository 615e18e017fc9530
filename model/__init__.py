"""The digit recogniser's model as the app serves it: load, preprocess, segment, recognise.

This package knows nothing of the web layer; `app/` imports it, never the
other way round, and reaches a trained model only through `load`.
What only trains lives in `model.training`, what only evaluates and reports
in `model.evaluation`; nothing here imports either.

The model protocol
------------------
`load(path)` returns an object of the kind its file names, which offers:

- ``recognise(images)`` -> `Prediction`: for a batch of digit fields,
  images of shape (n, 28, 28) or (n, 784), float32 in [0, 1], ink = 1,
  the digits' probabilities, `is_digit` and the digit share;
- ``predict_proba(images)`` -> ndarray of shape (n, 10): the digits' probabilities;
- ``confidence_threshold``: the top probability from which an answer counts
  as sure, chosen when the model was calibrated, or None when it was not;
- ``version``: a short id of the weights, computed once when the file is read;
- ``describe()`` -> dict: plain data for the /model page (kind, version,
  architecture, parameter count, training metadata).
"""

from model.constants import DEFAULT_MODEL_PATH
from model.modelfile import ModelFileError, read_model_file
from model.network import Network
from model.protocol import Prediction

__all__ = ["MODEL_KINDS", "ModelFileError", "Prediction", "load"]

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
