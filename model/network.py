"""A fully connected network: logistic hidden units, softmax output.

Batches are row-major, as in scikit-learn's MLP: each layer computes
``X @ W + b`` with ``X`` of shape (n_samples, fan_in) and ``W`` of shape
(fan_in, fan_out), one matrix product per layer for the whole batch.

The weights travel in a ``.npz`` file together with the layer sizes and the
training metadata, so a model file rebuilds its network without pickle.
"""

import hashlib

import numpy as np
from scipy.special import expit

from model.constants import DTYPE, N_CLASSES, N_PIXELS
from model.modelfile import ModelFileError, read_model_file, write_model_file
from model.protocol import Prediction
from model.rejection import PREFIX as NOT_DIGIT_PREFIX
from model.rejection import NotDigitHead, RejectionArraysError

KIND = "mlp"
"""The `kind` recorded in the model files of this network."""


VERSION_HASH_LENGTH = 8
"""Hex digits of the weights' SHA-256 kept in `Network.version`."""


def softmax(Z):
    """Return the row-wise softmax of Z, shape (n_samples, n_classes).

    The row maximum is subtracted first so that ``exp`` cannot overflow.
    """
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    E /= E.sum(axis=1, keepdims=True)
    return E


def cross_entropies(P, y):
    """Return the cross-entropy of each sample, shape (n_samples,).

    P : ndarray of shape (n_samples, n_classes), probabilities
    y : ndarray of shape (n_samples,), integers in [0, n_classes)

    The log is clipped at the dtype's machine epsilon so that a confident
    wrong answer costs a large finite loss rather than infinity.
    """
    eps = np.finfo(P.dtype).eps
    picked = P[np.arange(len(y)), y]
    return -np.log(np.clip(picked, eps, 1.0))


def cross_entropy(P, y):
    """Return the mean cross-entropy of probabilities P (n_samples, n_classes) for integer labels y (n_samples,)."""
    return float(cross_entropies(P, y).mean())


class Network:
    """A multi-layer perceptron with logistic hidden units and a softmax output.

    layer_sizes : tuple of int, e.g. (784, 800, 10)
    weights     : list of ndarray, weights[i] of shape (layer_sizes[i], layer_sizes[i + 1])
    biases      : list of ndarray, biases[i] of shape (layer_sizes[i + 1],)
    metadata    : dict, JSON-serialisable training metadata
    not_digit   : NotDigitHead or None, which reads the hidden activations
                  to say when a drawing is not a digit; without one, every
                  drawing counts as a digit
    """

    def __init__(self, weights, biases, metadata=None, not_digit=None):
        if len(weights) != len(biases) or not weights:
            raise ValueError(
                f"need one bias per weight matrix and at least one layer, "
                f"got {len(weights)} weight matrices and {len(biases)} bias vectors"
            )
        self.weights = list(weights)
        self.biases = list(biases)
        self.metadata = dict(metadata or {})
        self.not_digit = not_digit
        self._frozen_version = None

    @classmethod
    def initialise(cls, layer_sizes, rng, dtype=DTYPE):
        """Return a new network with Glorot-uniform weights and zero biases.

        The bound sqrt(2 / (fan_in + fan_out)) is the one scikit-learn uses
        for logistic units: it keeps the first pre-activations in the
        near-linear part of the sigmoid.
        """
        sizes = tuple(int(size) for size in layer_sizes)
        if len(sizes) < 2 or min(sizes) < 1:
            raise ValueError(f"layer_sizes must be at least two positive sizes, got {layer_sizes!r}")
        weights, biases = [], []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            bound = np.sqrt(2.0 / (fan_in + fan_out))
            weights.append(rng.uniform(-bound, bound, size=(fan_in, fan_out)).astype(dtype))
            biases.append(np.zeros(fan_out, dtype=dtype))
        return cls(weights, biases)

    @property
    def layer_sizes(self):
        """Sizes of the layers, input first: tuple of int."""
        return (self.weights[0].shape[0],) + tuple(W.shape[1] for W in self.weights)

    @property
    def dtype(self):
        """Floating type of the weights, used for all the arithmetic."""
        return self.weights[0].dtype

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
            layers = f"one hidden layer of {hidden[0]} logistic units, "
        elif hidden:
            layers = f"{len(hidden)} hidden layers of {', '.join(map(str, hidden))} logistic units, "
        else:
            layers = ""
        side = round(sizes[0] ** 0.5)
        picture = f" of a {side} × {side} image" if side * side == sizes[0] else ""
        summary = (
            f"A fully connected network (multi-layer perceptron): the {sizes[0]} pixels{picture} in, "
            f"{layers}and {sizes[-1]} softmax outputs, one probability per digit."
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
            "not_digit": None if self.not_digit is None else self.not_digit.describe(),
        }

    @property
    def parameter_count(self):
        """Number of weights and biases."""
        return sum(W.size + b.size for W, b in zip(self.weights, self.biases))

    def forward(self, X):
        """Return the activations of every layer, input first.

        X : ndarray of shape (n_samples, layer_sizes[0])
        Returns a list of ndarrays, the i-th of shape (n_samples, layer_sizes[i]);
        the last one holds the softmax probabilities.
        """
        activations = [np.asarray(X, dtype=self.dtype)]
        last = len(self.weights) - 1
        for i, (W, b) in enumerate(zip(self.weights, self.biases)):
            Z = activations[-1] @ W
            Z += b
            activations.append(softmax(Z) if i == last else expit(Z, out=Z))
        return activations

    def predict_proba(self, images):
        """Return class probabilities, shape (n_samples, 10), float32, rows summing to 1.

        images : ndarray of shape (n_samples, 28, 28) or (n_samples, 784),
                 float32 in [0, 1], ink = 1.
        """
        return self.forward(self._rows(images))[-1].astype(np.float32, copy=False)

    def recognise(self, images):
        """Return the Prediction for a batch of digit fields: probabilities and is_digit.

        images : ndarray of shape (n_samples, 28, 28) or (n_samples, 784)
        One forward pass serves both: the not-a-digit head reads the hidden
        activations the probabilities were computed from.
        """
        activations = self.forward(self._rows(images))
        probabilities = activations[-1].astype(np.float32, copy=False)
        if self.not_digit is None:
            return Prediction(probabilities, np.ones(len(probabilities), dtype=bool))
        return Prediction(probabilities, self.not_digit.is_digit(activations))

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
        return Network(self.weights, self.biases, self.metadata, head)

    def predict(self, X):
        """Return the most probable class of each row of X, shape (n_samples,)."""
        return self.predict_proba(X).argmax(axis=1)

    def backward(self, activations, y):
        """Return the gradients of the minibatch's mean cross-entropy with respect to every parameter.

        activations : what `forward` returned for the minibatch; its last
                      entry, the probabilities, also gives the loss and the
                      right answers, so the trainer needs no second pass
        y           : ndarray of shape (n_samples,), integer class labels
        Returns (weight_gradients, bias_gradients), lists shaped like
        `weights` and `biases`.

        Softmax with cross-entropy has the simple output delta P - Y; each
        hidden layer multiplies the back-propagated delta by expit's
        derivative, computed from the unit's output as a * (1 - a).
        """
        n_samples = len(y)
        delta = activations[-1].copy()
        delta[np.arange(n_samples), y] -= 1
        delta /= n_samples
        weight_gradients = [None] * len(self.weights)
        bias_gradients = [None] * len(self.biases)
        for i in range(len(self.weights) - 1, -1, -1):
            weight_gradients[i] = activations[i].T @ delta
            bias_gradients[i] = delta.sum(axis=0)
            if i > 0:
                a = activations[i]
                delta = (delta @ self.weights[i].T) * a * (1 - a)
        return weight_gradients, bias_gradients

    def is_finite(self):
        """Return True if no weight or bias is NaN or infinite."""
        return all(np.isfinite(p).all() for p in self.weights + self.biases)

    def to_arrays(self):
        """Return the arrays of the model file: the layer sizes and each layer's W and b."""
        arrays = {"layer_sizes": np.array(self.layer_sizes, dtype=np.int64)}
        for i, (W, b) in enumerate(zip(self.weights, self.biases)):
            arrays[f"W{i}"] = W
            arrays[f"b{i}"] = b
        if self.not_digit is not None:
            arrays.update(self.not_digit.to_arrays())
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
        if sizes[0] != N_PIXELS or sizes[-1] != N_CLASSES:
            raise ModelFileError(
                path, f"layer_sizes {sizes} must start with {N_PIXELS} inputs and end with {N_CLASSES} outputs"
            )

        weights, biases = [], []
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            for key, shape, layer in ((f"W{i}", (fan_in, fan_out), weights), (f"b{i}", (fan_out,), biases)):
                if key not in arrays:
                    raise ModelFileError(path, f"missing array {key!r} for layer_sizes {sizes}")
                array = arrays[key]
                if array.shape != shape:
                    raise ModelFileError(
                        path, f"array {key!r} has shape {array.shape}, expected {shape} from layer_sizes {sizes}"
                    )
                if array.dtype.kind != "f":
                    raise ModelFileError(path, f"array {key!r} has dtype {array.dtype}, expected floating point")
                if not np.isfinite(array).all():
                    raise ModelFileError(path, f"array {key!r} contains NaN or infinite values")
                layer.append(array)
        if len({array.dtype for array in weights + biases}) != 1:
            raise ModelFileError(path, "weights and biases must all have the same dtype")
        not_digit = None
        if any(key.startswith(NOT_DIGIT_PREFIX) for key in arrays):
            try:
                not_digit = NotDigitHead.from_arrays(arrays, sizes)
            except RejectionArraysError as error:
                raise ModelFileError(path, f"not-a-digit head: {error}") from None
        return cls(weights, biases, metadata, not_digit).freeze()
