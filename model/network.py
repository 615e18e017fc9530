"""A fully connected network: logistic hidden units, softmax output, built on `model.layers`.

The first ten outputs are the digits 0 to 9. A network trained on what is
not a digit as well has more outputs, each named in `output_labels` (letters
and symbols, and "generated" for scribbles and wrong cuts); the drawing is a
digit when the digits' share of the probability reaches `digit_threshold`,
and the ten probabilities served are the digits' own, renormalised. One
forward pass gives both.

`temperature` divides the output pre-activations before the softmax: chosen
on held-out training writers, it makes the probabilities honest (of the
answers given with 0.95, 95 % are right), and `confidence_threshold` is the
probability above which an answer is right often enough to be called sure.

The weights travel in a ``.npz`` file together with the layer sizes and the
training metadata, so a model file rebuilds its network without pickle.
Older files (ten outputs, perhaps with a not-a-digit head) still load.
"""

import hashlib

import numpy as np
from scipy.special import logsumexp

from model import layers
from model.constants import DTYPE, N_CLASSES, N_PIXELS
from model.modelfile import ModelFileError, read_model_file, write_model_file
from model.protocol import Prediction
from model.rejection import PREFIX as NOT_DIGIT_PREFIX
from model.rejection import NotDigitHead, RejectionArraysError

softmax = layers.softmax
cross_entropies = layers.cross_entropies
cross_entropy = layers.cross_entropy

KIND = "mlp"
"""The `kind` recorded in the model files of this network."""

VERSION_HASH_LENGTH = 8
"""Hex digits of the weights' SHA-256 kept in `Network.version`."""

CALIBRATION_KEYS = ("temperature", "digit_threshold", "confidence_threshold")
"""Scalars a calibrated model file holds beside the layers."""

OUTPUT_LABELS_KEY = "output_labels"


class Network:
    """A multi-layer perceptron with logistic hidden units and a softmax output.

    weights       : list of ndarray, weights[i] of shape (layer_sizes[i], layer_sizes[i + 1])
    biases        : list of ndarray, biases[i] of shape (layer_sizes[i + 1],)
    metadata      : dict, JSON-serialisable training metadata
    not_digit     : NotDigitHead or None (older files), reading the hidden activations
    output_labels : names of the outputs after the ten digits (what is not a digit)
    calibration   : dict with "temperature" (> 0), "digit_threshold" and
                    "confidence_threshold" (in [0, 1], or None)
    """

    def __init__(self, weights, biases, metadata=None, not_digit=None, output_labels=(), calibration=None):
        if len(weights) != len(biases) or not weights:
            raise ValueError(
                f"need one bias per weight matrix and at least one layer, "
                f"got {len(weights)} weight matrices and {len(biases)} bias vectors"
            )
        self.weights = list(weights)
        self.biases = list(biases)
        self.metadata = dict(metadata or {})
        self.not_digit = not_digit
        self.output_labels = tuple(str(label) for label in output_labels)
        if self.output_labels and N_CLASSES + len(self.output_labels) != self.weights[-1].shape[1]:
            raise ValueError(
                f"{self.weights[-1].shape[1]} outputs need {self.weights[-1].shape[1] - N_CLASSES} "
                f"output_labels, got {len(self.output_labels)}"
            )
        self.calibration = {"temperature": 1.0, "digit_threshold": None, "confidence_threshold": None}
        self.calibration.update(calibration or {})
        self._frozen_version = None

    @classmethod
    def initialise(cls, layer_sizes, rng, dtype=DTYPE, output_labels=()):
        """Return a new network with Glorot-uniform weights and zero biases (see `layers.initialise`)."""
        weights, biases = layers.initialise(layer_sizes, rng, dtype)
        return cls(weights, biases, output_labels=output_labels)

    @property
    def layer_sizes(self):
        """Sizes of the layers, input first: tuple of int."""
        return (self.weights[0].shape[0],) + tuple(W.shape[1] for W in self.weights)

    @property
    def dtype(self):
        """Floating type of the weights, used for all the arithmetic."""
        return self.weights[0].dtype

    @property
    def temperature(self):
        """The divisor of the output pre-activations: 1 until calibrated."""
        return float(self.calibration["temperature"])

    @property
    def confidence_threshold(self):
        """The top probability from which an answer is right often enough to be called sure, or None.

        Chosen on held-out training writers when the network was calibrated;
        None for older files, which leave the choice to the caller.
        """
        threshold = self.calibration["confidence_threshold"]
        return None if threshold is None else float(threshold)

    @property
    def version(self):
        """Return a short stable id: the layer sizes and a hash of the weight bytes.

        A loaded network is frozen (its arrays are read-only) and hashed once
        by `load`; a network in training is hashed anew each time.
        """
        if self._frozen_version is not None:
            return self._frozen_version
        digest = hashlib.sha256()
        for W, b in zip(self.weights, self.biases):
            digest.update(np.ascontiguousarray(W).tobytes())
            digest.update(np.ascontiguousarray(b).tobytes())
        if self.not_digit is not None:
            for name, array in sorted(self.not_digit.to_arrays().items()):
                digest.update(name.encode("utf-8"))
                digest.update(np.ascontiguousarray(array).tobytes())
        if self.output_labels or self.calibration["digit_threshold"] is not None:
            for name, array in sorted(self._open_arrays().items()):
                digest.update(name.encode("utf-8"))
                digest.update(np.ascontiguousarray(array).tobytes())
        sizes = "-".join(str(size) for size in self.layer_sizes)
        return f"{KIND}-{sizes}-{digest.hexdigest()[:VERSION_HASH_LENGTH]}"

    def freeze(self):
        """Make the weights read-only and hash them once, for serving; return self."""
        head = [] if self.not_digit is None else self.not_digit.weights + self.not_digit.biases
        for array in self.weights + self.biases + head:
            array.flags.writeable = False
        self._frozen_version = None
        self._frozen_version = self.version
        return self

    def describe(self):
        """Return what a person reading about this model wants to know, as plain data.

        "summary" says in a sentence or two what kind of network this is, so
        that the /model page can show any kind of model without knowing its layers.
        """
        sizes = list(self.layer_sizes)
        hidden = sizes[1:-1]
        if len(hidden) == 1:
            layers_text = f"one hidden layer of {hidden[0]} logistic units, "
        elif hidden:
            layers_text = f"{len(hidden)} hidden layers of {', '.join(map(str, hidden))} logistic units, "
        else:
            layers_text = ""
        side = round(sizes[0] ** 0.5)
        picture = f" of a {side} × {side} image" if side * side == sizes[0] else ""
        if self.output_labels:
            outputs = (f"{sizes[-1]} softmax outputs: one per digit and {len(self.output_labels)} for what is "
                       "not a digit (letters, symbols, scribbles); a drawing is a digit when the digits "
                       "take most of the probability.")
        else:
            outputs = f"{sizes[-1]} softmax outputs, one probability per digit."
        summary = (
            f"A fully connected network (multi-layer perceptron): the {sizes[0]} pixels{picture} in, "
            f"{layers_text}and {outputs}"
        )
        if self.not_digit is not None:
            summary += (" A small second network reads its hidden layers' activations"
                        " and says when a drawing is not a digit at all.")
        return {
            "kind": KIND,
            "summary": summary,
            "version": self.version,
            "architecture": " → ".join(str(size) for size in sizes),
            "layer_sizes": sizes,
            "hidden": sizes[1:-1],
            "parameter_count": self.parameter_count,
            "dtype": str(self.dtype),
            "metadata": self.metadata,
            "not_digit": self._describe_not_digit(),
            "output_labels": list(self.output_labels),
            "calibration": dict(self.calibration),
        }

    def _describe_not_digit(self):
        """Return how this model tells digits from other marks, as the /model page reads it; None if it does not."""
        if self.not_digit is not None:
            return self.not_digit.describe()
        if not self.output_labels:
            return None
        held_out = self.metadata.get("calibration") or {}
        return {
            "kind": "outputs",
            "threshold": self.calibration["digit_threshold"],
            "command": self.metadata.get("command"),
            "trained_at": self.metadata.get("trained_at"),
            "training_seconds": self.metadata.get("training_seconds"),
            "generated_kinds": (self.metadata.get("handwriting") or {}).get("generated_kinds"),
            "cross_validated": {"others_rejected": held_out.get("held_out_others_rejected"),
                                "digits_rejected": held_out.get("held_out_digits_rejected")},
            "measuring_writers": self.metadata.get("measuring_writers") or {},
        }

    @property
    def parameter_count(self):
        """Number of weights and biases."""
        return sum(W.size + b.size for W, b in zip(self.weights, self.biases))

    def forward(self, X):
        """Return the activations of every layer, input first (uncalibrated: what training reads).

        X : ndarray of shape (n_samples, layer_sizes[0])
        Returns a list of ndarrays, the i-th of shape (n_samples, layer_sizes[i]);
        the last one holds the softmax probabilities of every output.
        """
        return layers.forward(np.asarray(X, dtype=self.dtype), self.weights, self.biases)

    def logits(self, images):
        """Return (hidden activations list, output pre-activations divided by the temperature).

        images : ndarray of shape (n_samples, 28, 28) or (n_samples, 784)
        The pre-activations have shape (n_samples, layer_sizes[-1]).
        """
        hidden = layers.forward(self._rows(images), self.weights[:-1], self.biases[:-1], layers.LOGISTIC)
        Z = layers.pre_activations(hidden[-1], self.weights[-1], self.biases[-1])
        if self.temperature != 1:
            Z /= self.dtype.type(self.temperature)
        return hidden, Z

    def predict_proba(self, images):
        """Return the digits' probabilities, shape (n_samples, 10), float32, rows summing to 1.

        images : ndarray of shape (n_samples, 28, 28) or (n_samples, 784),
                 float32 in [0, 1], ink = 1.
        """
        return self.recognise(images).probabilities

    def recognise(self, images):
        """Return the Prediction for a batch of digit fields: probabilities, is_digit and digit_share.

        images : ndarray of shape (n_samples, 28, 28) or (n_samples, 784)
        One forward pass serves all three.
        """
        hidden, Z = self.logits(images)
        probabilities = softmax(Z[:, :N_CLASSES]).astype(np.float32, copy=False)
        if self.not_digit is not None:
            score = self.not_digit.score(hidden + [softmax(Z)])
            return Prediction(probabilities, score < self.not_digit.threshold,
                              (1 - score).astype(np.float32, copy=False))
        share_log = self.digit_share_log(Z)
        share = np.exp(share_log).astype(np.float32, copy=False)
        threshold = self.calibration["digit_threshold"]
        if threshold is None:
            return Prediction(probabilities, np.ones(len(probabilities), dtype=bool), share)
        return Prediction(probabilities, share_log >= np.log(max(threshold, np.finfo(np.float64).tiny)), share)

    @staticmethod
    def digit_share_log(Z):
        """Return the log of the digits' share of the probability, shape (n_samples,), from pre-activations Z."""
        return logsumexp(Z[:, :N_CLASSES], axis=1) - logsumexp(Z, axis=1)

    def _rows(self, images):
        """Return images as rows of the input layer, shape (n_samples, 784), in the network's dtype."""
        X = np.asarray(images, dtype=self.dtype)
        X = X.reshape(len(X), -1) if X.ndim == 3 else X
        if X.ndim != 2 or X.shape[1] != self.layer_sizes[0]:
            raise ValueError(
                f"images must have shape (n_samples, 28, 28) or (n_samples, {self.layer_sizes[0]}), "
                f"got {np.shape(images)}"
            )
        return X

    def with_not_digit(self, head):
        """Return this network with `head` as its not-a-digit head (the weights are shared)."""
        return Network(self.weights, self.biases, self.metadata, head, self.output_labels, self.calibration)

    def with_calibration(self, **calibration):
        """Return this network with the calibration values given replaced (the weights are shared)."""
        return Network(self.weights, self.biases, self.metadata, self.not_digit, self.output_labels,
                       {**self.calibration, **calibration})

    def predict(self, X):
        """Return the most probable digit of each row of X, shape (n_samples,)."""
        return self.predict_proba(X).argmax(axis=1)

    def backward(self, activations, y):
        """Return the gradients of the minibatch's mean cross-entropy with respect to every parameter.

        activations : what `forward` returned for the minibatch; its last
                      entry, the probabilities, also gives the loss and the
                      right answers, so the trainer needs no second pass
        y           : ndarray of shape (n_samples,), integer class labels
        Returns (weight_gradients, bias_gradients), lists shaped like
        `weights` and `biases`. Softmax with cross-entropy has the simple
        output delta P - Y.
        """
        n_samples = len(y)
        delta = activations[-1].copy()
        delta[np.arange(n_samples), y] -= 1
        delta /= n_samples
        return layers.backward(activations, self.weights, delta)

    def is_finite(self):
        """Return True if no weight or bias is NaN or infinite."""
        return layers.layers_finite(self.weights, self.biases)

    def _open_arrays(self):
        """Return the arrays of the outputs beyond the digits and of the calibration."""
        arrays = {OUTPUT_LABELS_KEY: np.array(self.output_labels, dtype=str)}
        for key in CALIBRATION_KEYS:
            value = self.calibration[key]
            arrays[key] = np.array(np.nan if value is None else value, dtype=np.float64)
        return arrays

    def to_arrays(self):
        """Return the arrays of the model file: the layer sizes, each layer's W and b, and the calibration."""
        arrays = {"layer_sizes": np.array(self.layer_sizes, dtype=np.int64)}
        for i, (W, b) in enumerate(zip(self.weights, self.biases)):
            arrays[f"W{i}"] = W
            arrays[f"b{i}"] = b
        if self.not_digit is not None:
            arrays.update(self.not_digit.to_arrays())
        if self.output_labels or self.calibration["digit_threshold"] is not None or self.temperature != 1:
            arrays.update(self._open_arrays())
        return arrays

    def save(self, path):
        """Write the network to a model file (atomically: see `write_model_file`)."""
        write_model_file(path, KIND, self.to_arrays(), self.metadata)

    @classmethod
    def load(cls, path):
        """Read a network saved by `save`, checking every array; raise ModelFileError if malformed."""
        kind, arrays, metadata = read_model_file(path)
        if kind != KIND:
            raise ModelFileError(path, f"holds a {kind!r} model, not an {KIND!r}")
        return cls.from_arrays(path, arrays, metadata)

    @classmethod
    def from_arrays(cls, path, arrays, metadata):
        """Build a frozen network from a model file's arrays, validating each one."""
        if "layer_sizes" not in arrays:
            raise ModelFileError(path, "missing array 'layer_sizes'")
        sizes = arrays["layer_sizes"]
        if sizes.ndim != 1 or sizes.dtype.kind not in "iu" or len(sizes) < 2 or sizes.min() < 1:
            raise ModelFileError(path, f"layer_sizes must be at least two positive integers, got {sizes.tolist()}")
        sizes = tuple(int(size) for size in sizes)
        output_labels = _output_labels(path, arrays, sizes)
        if sizes[0] != N_PIXELS or sizes[-1] != N_CLASSES + len(output_labels):
            raise ModelFileError(
                path, f"layer_sizes {sizes} must start with {N_PIXELS} inputs and end with {N_CLASSES} outputs"
                f"{f' and {len(output_labels)} more, one per output label' if output_labels else ''}"
            )
        try:
            weights, biases = layers.read_layers(arrays, lambda i: f"W{i}", lambda i: f"b{i}", sizes)
        except layers.LayerArraysError as error:
            raise ModelFileError(path, str(error)) from None
        not_digit = None
        if any(key.startswith(NOT_DIGIT_PREFIX) for key in arrays):
            try:
                not_digit = NotDigitHead.from_arrays(arrays, sizes)
            except RejectionArraysError as error:
                raise ModelFileError(path, f"not-a-digit head: {error}") from None
        calibration = _calibration(path, arrays)
        return cls(weights, biases, metadata, not_digit, output_labels, calibration).freeze()


def _output_labels(path, arrays, sizes):
    """Return the names of the outputs beyond the digits: () in files written before there were any."""
    if OUTPUT_LABELS_KEY not in arrays:
        return ()
    labels = arrays[OUTPUT_LABELS_KEY]
    if labels.ndim != 1 or (labels.size and labels.dtype.kind != "U"):
        raise ModelFileError(path, f"{OUTPUT_LABELS_KEY} must be a list of strings")
    return tuple(str(label) for label in labels)


def _calibration(path, arrays):
    """Return the calibration scalars of a model file; files without them get the identity."""
    calibration = {}
    for key in CALIBRATION_KEYS:
        if key not in arrays:
            continue
        array = arrays[key]
        if array.shape != () or array.dtype.kind != "f":
            raise ModelFileError(path, f"{key} must be a single float")
        value = float(array)
        if np.isnan(value):
            calibration[key] = None
        elif key == "temperature" and not (np.isfinite(value) and value > 0):
            raise ModelFileError(path, f"temperature must be a positive number, got {value}")
        elif key != "temperature" and not 0 <= value <= 1:
            raise ModelFileError(path, f"{key} must lie in [0, 1], got {value}")
        else:
            calibration[key] = value
    if calibration.get("temperature", 1.0) is None:
        raise ModelFileError(path, "temperature must be a positive number, got NaN")
    return calibration
