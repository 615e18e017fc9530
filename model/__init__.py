"""The digit recogniser's model: network, data, preprocessing and training.

This package knows nothing of the web layer; `app/` imports it, never the
other way round.
"""

from pathlib import Path

IMAGE_SIDE = 28
"""Side of the square images the network reads, as in MNIST."""

N_PIXELS = IMAGE_SIDE * IMAGE_SIDE
"""Length of a flattened input image: the network's input width."""

N_CLASSES = 10
"""The digits 0 to 9."""

DEFAULT_MODEL_PATH = Path(__file__).resolve().parent / "weights.npz"
"""The committed, trained model that the app serves unless told otherwise."""
