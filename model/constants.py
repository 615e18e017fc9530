"""The numbers every part of the model shares: image sizes, the page's pen, the float type."""

from pathlib import Path

import numpy as np

IMAGE_SIDE = 28
"""Side of the square images the network reads, as in MNIST."""

N_PIXELS = IMAGE_SIDE * IMAGE_SIDE
"""Length of a flattened input image: the network's input width."""

N_CLASSES = 10
"""The digits 0 to 9."""

MAX_INTENSITY = 255
"""Largest value of an 8-bit channel: full ink in MNIST's bytes, white, opaque."""

CANVAS_HEIGHT = 280
"""Height of the page's drawing surface in drawing units, and of the UNIPEN strokes' canvas."""

PEN_WIDTH = 18
"""Pen width of the UNIPEN recipe (the data's README), in drawing units: how training and benchmarks draw strokes.

The page itself draws thinner, so that the small digits of a long number
stay open; its width is set by the app and given to the page."""

DTYPE = np.float32
"""Floating type of images, weights and all the arithmetic."""

DEFAULT_MODEL_PATH = Path(__file__).resolve().parent / "weights.npz"
"""The committed, trained model that the app serves unless told otherwise."""
