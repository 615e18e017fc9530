"""Say when a drawing is not a digit: a small head on the frozen network's hidden activations.

The digit network answers one of ten digits for anything it is shown, a
letter or a plus sign included, often with high confidence. This head reads
what the network already computed for the drawing (the activations of its
hidden layers, as `Network.forward` returns them) and scores how unlike the
digits it was trained on the drawing is. The digit network is not touched,
so its probabilities stay exactly as they were; the head only adds a yes/no.

The head is a tiny multi-layer perceptron: logistic (`scipy.special.expit`)
hidden units and one logistic output, the probability that the drawing is
not a digit. A drawing is a digit when that score is below `threshold`,
which training chose on held-out writers for a small share of rejected
digits. Models trained since issue 19 have no head: the network itself has
outputs for what is not a digit; this module keeps the older files loadable.

Its arrays travel with names prefixed ``not_digit_`` so that they can sit
in the digit network's own model file beside ``W0``, ``b0``, ...
"""

import json

import numpy as np

from model import layers
from model.constants import DTYPE

FORMAT_VERSION = 1
"""Version of the array layout that `to_arrays` writes and `from_arrays` reads."""

PREFIX = "not_digit_"
"""Prefix of every array name, so that the head can share a file with the network."""

FORMAT_KEY = PREFIX + "format_version"
LAYERS_KEY = PREFIX + "input_layers"
THRESHOLD_KEY = PREFIX + "threshold"

LOG_PROBABILITY_FLOOR = -30.0
"""Lowest log-probability of a digit the head reads from the softmax output (e**-30 is 1e-13)."""
METADATA_KEY = PREFIX + "metadata"


class RejectionArraysError(ValueError):
    """The arrays of a not-a-digit head are missing or malformed; the message says which and how."""


def _weight_key(i):
    return f"{PREFIX}W{i}"


def _bias_key(i):
    return f"{PREFIX}b{i}"


class NotDigitHead:
    """A logistic-unit perceptron scoring how unlike a digit a drawing is.

    input_layers : tuple of int, indices into the list `Network.forward` returns
                   (0 = pixels, 1 = first hidden layer, ...) whose activations
                   are concatenated, in this order, into the head's input
    weights      : list of ndarray, weights[i] of shape (fan_in_i, fan_out_i);
                   the last fan_out is 1
    biases       : list of ndarray, biases[i] of shape (fan_out_i,)
    threshold    : float in [0, 1]; a score at or above it means "not a digit"
    metadata     : dict, JSON-serialisable (training command, figures)
    """

    def __init__(self, input_layers, weights, biases, threshold, metadata=None):
        self.input_layers = tuple(int(layer) for layer in input_layers)
        self.weights = [np.asarray(W, dtype=DTYPE) for W in weights]
        self.biases = [np.asarray(b, dtype=DTYPE) for b in biases]
        self.threshold = float(threshold)
        self.metadata = dict(metadata or {})

    @classmethod
    def initialise(cls, input_layers, n_features, hidden, rng):
        """Return an untrained head with Glorot-uniform weights, zero biases and threshold 0.5.

        n_features : width of the concatenated input activations
        hidden     : tuple of int, sizes of the hidden layers (may be empty)
        rng        : np.random.Generator
        """
        sizes = (int(n_features), *(int(size) for size in hidden), 1)
        weights, biases = layers.initialise(sizes, rng, DTYPE)
        return cls(input_layers, weights, biases, threshold=0.5)

    @property
    def layer_sizes(self):
        """Sizes of the head's layers, input first: tuple of int."""
        return (self.weights[0].shape[0],) + tuple(W.shape[1] for W in self.weights)

    def features(self, activations):
        """Return the head's input, shape (n_samples, layer_sizes[0]), float32.

        activations : list of ndarray as `Network.forward` returns it, the
                      i-th of shape (n_samples, network layer i's size)

        The softmax output, if read, is read as log-probabilities floored at
        LOG_PROBABILITY_FLOOR and divided by its size, so that its values lie
        in [-1, 0] as the logistic units' lie in [0, 1]: how strongly the
        network rules each digit out matters, and probabilities squash that.
        """
        output_layer = len(activations) - 1
        if max(self.input_layers) > output_layer:
            raise ValueError(
                f"the head reads layers {self.input_layers}, but only {len(activations)} activations were given"
            )
        parts = []
        for layer in self.input_layers:
            part = np.asarray(activations[layer], dtype=DTYPE)
            if layer == output_layer:
                part = np.log(np.maximum(part, np.exp(DTYPE(LOG_PROBABILITY_FLOOR))))
                part /= DTYPE(-LOG_PROBABILITY_FLOOR)
            parts.append(part)
        F = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)
        if F.ndim != 2 or F.shape[1] != self.layer_sizes[0]:
            raise ValueError(
                f"layers {self.input_layers} give features of shape {F.shape}, "
                f"expected (n_samples, {self.layer_sizes[0]})"
            )
        return F

    def forward_features(self, F):
        """Return the activations of every head layer for features F, input first.

        F : ndarray of shape (n_samples, layer_sizes[0]), float32
        Returns a list of ndarrays; the last, of shape (n_samples, 1), is the score.
        """
        return layers.forward(F, self.weights, self.biases, layers.LOGISTIC)

    def score(self, activations):
        """Return the probability that each drawing is not a digit, shape (n_samples,), float32.

        activations : list of ndarray from `Network.forward` for a batch of (n_samples, 784) inputs
        """
        return self.forward_features(self.features(activations))[-1][:, 0]

    def is_finite(self):
        """Return True if no weight, bias or the threshold is NaN or infinite."""
        return np.isfinite(self.threshold) and all(np.isfinite(p).all() for p in self.weights + self.biases)

    def describe(self):
        """Return a JSON-able summary: what it reads, its sizes, threshold and training metadata."""
        return {
            "input_layers": list(self.input_layers),
            "layer_sizes": list(self.layer_sizes),
            "threshold": self.threshold,
            **self.metadata,
        }

    def to_arrays(self):
        """Return the head as a dict of named arrays (names prefixed "not_digit_"), no objects.

        The metadata is one JSON string, so `np.savez` stores it without pickle.
        """
        arrays = {
            FORMAT_KEY: np.array(FORMAT_VERSION, dtype=np.int64),
            LAYERS_KEY: np.array(self.input_layers, dtype=np.int64),
            THRESHOLD_KEY: np.array(self.threshold, dtype=DTYPE),
            METADATA_KEY: np.array(json.dumps(self.metadata, sort_keys=True)),
        }
        for i, (W, b) in enumerate(zip(self.weights, self.biases)):
            arrays[_weight_key(i)] = W
            arrays[_bias_key(i)] = b
        return arrays

    @classmethod
    def from_arrays(cls, arrays, network_layer_sizes=None):
        """Build a head from arrays written by `to_arrays`, checking each; raise RejectionArraysError.

        arrays              : mapping of name to ndarray; names without the
                              "not_digit_" prefix (the network's own) are ignored
        network_layer_sizes : the digit network's layer sizes, if known: the
                              head's input width is then checked against the
                              layers it reads
        """
        for key in (FORMAT_KEY, LAYERS_KEY, THRESHOLD_KEY, METADATA_KEY, _weight_key(0), _bias_key(0)):
            if key not in arrays:
                raise RejectionArraysError(f"missing array {key!r}")

        version = np.asarray(arrays[FORMAT_KEY])
        if version.shape != () or version.dtype.kind not in "iu":
            raise RejectionArraysError(f"{FORMAT_KEY} must be a single integer")
        if int(version) != FORMAT_VERSION:
            raise RejectionArraysError(
                f"unsupported {FORMAT_KEY} {int(version)} (this code reads {FORMAT_VERSION})"
            )

        layers = np.asarray(arrays[LAYERS_KEY])
        if layers.ndim != 1 or layers.size == 0 or layers.dtype.kind not in "iu" or layers.min() < 0:
            raise RejectionArraysError(f"{LAYERS_KEY} must be one or more non-negative integers, got {layers!r}")
        input_layers = tuple(int(layer) for layer in layers)

        threshold = np.asarray(arrays[THRESHOLD_KEY])
        if threshold.shape != () or threshold.dtype.kind != "f" or not 0 <= float(threshold) <= 1:
            raise RejectionArraysError(f"{THRESHOLD_KEY} must be a single float in [0, 1], got {threshold!r}")

        weights, biases = cls._read_layers(arrays)
        if weights[-1].shape[1] != 1:
            raise RejectionArraysError(
                f"the last layer must have one output (the score), got {weights[-1].shape[1]}"
            )
        if network_layer_sizes is not None:
            try:
                expected = sum(int(network_layer_sizes[layer]) for layer in input_layers)
            except IndexError:
                raise RejectionArraysError(
                    f"{LAYERS_KEY} {input_layers} names layers the network {tuple(network_layer_sizes)} lacks"
                ) from None
            if weights[0].shape[0] != expected:
                raise RejectionArraysError(
                    f"{_weight_key(0)} reads {weights[0].shape[0]} features, but layers {input_layers} "
                    f"of the network {tuple(network_layer_sizes)} give {expected}"
                )

        metadata = np.asarray(arrays[METADATA_KEY])
        if metadata.shape != () or metadata.dtype.kind != "U":
            raise RejectionArraysError(f"{METADATA_KEY} must be a single JSON string")
        try:
            metadata = json.loads(str(metadata))
        except json.JSONDecodeError as error:
            raise RejectionArraysError(f"{METADATA_KEY} is not valid JSON ({error})") from None
        if not isinstance(metadata, dict):
            raise RejectionArraysError(f"{METADATA_KEY} must be a JSON object")
        return cls(input_layers, weights, biases, float(threshold), metadata)

    @staticmethod
    def _read_layers(arrays):
        """Return (weights, biases) read from not_digit_W0, not_digit_b0, ... until the first gap."""
        try:
            weights, biases = layers.read_layers(arrays, _weight_key, _bias_key)
        except layers.LayerArraysError as error:
            raise RejectionArraysError(str(error)) from None
        return weights, biases
