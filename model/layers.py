"""The dense-layer core that every network here is built from.

A stack of fully connected layers, row-major as in scikit-learn's MLP: each
layer computes ``X @ W + b`` with ``X`` of shape (n_samples, fan_in) and
``W`` of shape (fan_in, fan_out), one matrix product per layer for the whole
batch. Hidden units are logistic (`scipy.special.expit`); the last layer is a
softmax (one class among many) or logistic (one yes/no score).

`initialise`, `forward`, `backward` and `read_layers` are the four things a
network does with its layers; `model.network` and `model.rejection` differ
only in what they put around them.
"""

import numpy as np
from scipy.special import expit

from model.constants import DTYPE

SOFTMAX = "softmax"
LOGISTIC = "logistic"
OUTPUTS = (SOFTMAX, LOGISTIC)
"""What the last layer computes: a softmax over its units, or a logistic per unit."""


class LayerArraysError(ValueError):
    """A layer's arrays are missing or malformed; the message names the array and the problem."""


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


def initialise(layer_sizes, rng, dtype=DTYPE):
    """Return (weights, biases) with Glorot-uniform weights and zero biases.

    layer_sizes : sizes of the layers, input first, e.g. (784, 800, 10)
    The bound sqrt(2 / (fan_in + fan_out)) is the one scikit-learn uses for
    logistic units: it keeps the first pre-activations in the near-linear
    part of the sigmoid.
    """
    sizes = tuple(int(size) for size in layer_sizes)
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"layer_sizes must be at least two positive sizes, got {layer_sizes!r}")
    weights, biases = [], []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = np.sqrt(2.0 / (fan_in + fan_out))
        weights.append(rng.uniform(-bound, bound, size=(fan_in, fan_out)).astype(dtype))
        biases.append(np.zeros(fan_out, dtype=dtype))
    return weights, biases


def pre_activations(A, W, b):
    """Return A @ W + b, shape (n_samples, fan_out), computed in place of one new array."""
    Z = A @ W
    Z += b
    return Z


def forward(X, weights, biases, output=SOFTMAX):
    """Return the activations of every layer, input first.

    X : ndarray of shape (n_samples, fan_in of the first layer)
    Returns a list of ndarrays, the i-th of shape (n_samples, size of layer i);
    the last holds the output layer's softmax or logistic values.
    """
    activations = [X]
    last = len(weights) - 1
    for i, (W, b) in enumerate(zip(weights, biases)):
        Z = pre_activations(activations[-1], W, b)
        activations.append(softmax(Z) if i == last and output == SOFTMAX else expit(Z, out=Z))
    return activations


def backward(activations, weights, output_delta):
    """Return the gradients of a loss with respect to every weight and bias.

    activations  : what `forward` returned
    output_delta : ndarray of shape (n_samples, n_outputs), the loss's
                   gradient with respect to the output layer's
                   pre-activations (P - Y for softmax or logistic outputs
                   with cross-entropy, already divided by the batch's weight)
    Returns (weight_gradients, bias_gradients), lists shaped like the layers.
    Each hidden layer multiplies the back-propagated delta by expit's
    derivative, computed from the unit's output as a * (1 - a).
    """
    delta = output_delta
    weight_gradients = [None] * len(weights)
    bias_gradients = [None] * len(weights)
    for i in range(len(weights) - 1, -1, -1):
        weight_gradients[i] = activations[i].T @ delta
        bias_gradients[i] = delta.sum(axis=0)
        if i > 0:
            a = activations[i]
            delta = (delta @ weights[i].T) * a * (1 - a)
    return weight_gradients, bias_gradients


def read_layers(arrays, weight_key, bias_key, layer_sizes=None):
    """Return (weights, biases) read from arrays named weight_key(0), bias_key(0), ... and checked.

    arrays      : mapping of name to ndarray
    weight_key, bias_key : functions of the layer index giving the array names
    layer_sizes : the sizes the layers must have, input first; None to read
                  layers until the first missing index, each fan_in matching
                  the previous fan_out
    Every array must be floating point, finite and of one dtype. Raises
    LayerArraysError naming the array and the problem.
    """
    weights, biases = [], []
    i = 0
    while (layer_sizes is None and weight_key(i) in arrays) or (layer_sizes is not None and i < len(layer_sizes) - 1):
        for key in (weight_key(i), bias_key(i)):
            if key not in arrays:
                sizes = "" if layer_sizes is None else f" for layer_sizes {tuple(layer_sizes)}"
                raise LayerArraysError(f"missing array {key!r}{sizes}")
        W, b = np.asarray(arrays[weight_key(i)]), np.asarray(arrays[bias_key(i)])
        fan_in = weights[-1].shape[1] if weights else None
        if layer_sizes is not None:
            expected = (layer_sizes[i], layer_sizes[i + 1])
            if W.shape != expected:
                raise LayerArraysError(
                    f"array {weight_key(i)!r} has shape {W.shape}, expected {expected} "
                    f"from layer_sizes {tuple(layer_sizes)}"
                )
        elif W.ndim != 2 or min(W.shape) < 1 or (fan_in is not None and W.shape[0] != fan_in):
            wanted = "(n_features, fan_out)" if fan_in is None else f"({fan_in}, fan_out)"
            raise LayerArraysError(f"array {weight_key(i)!r} has shape {W.shape}, expected {wanted}")
        if b.shape != (W.shape[1],):
            raise LayerArraysError(f"array {bias_key(i)!r} has shape {b.shape}, expected ({W.shape[1]},)")
        for key, array in ((weight_key(i), W), (bias_key(i), b)):
            if array.dtype.kind != "f":
                raise LayerArraysError(f"array {key!r} has dtype {array.dtype}, expected floating point")
            if not np.isfinite(array).all():
                raise LayerArraysError(f"array {key!r} contains NaN or infinite values")
        weights.append(W)
        biases.append(b)
        i += 1
    if not weights:
        raise LayerArraysError(f"missing array {weight_key(0)!r}")
    if len({array.dtype for array in weights + biases}) != 1:
        raise LayerArraysError("weights and biases must all have the same dtype")
    return weights, biases


def layers_finite(weights, biases):
    """Return True if no weight or bias is NaN or infinite."""
    return all(np.isfinite(p).all() for p in list(weights) + list(biases))
