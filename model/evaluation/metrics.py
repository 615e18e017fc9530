"""How good a network's answers are on a labelled set: confusion matrix, accuracies, worst errors, rejections.

Pure functions of arrays: the evaluation report, the benchmarks and the
/model page's heat map all count and shade in the same way.
"""

import math
from typing import NamedTuple

import numpy as np

from model.constants import N_CLASSES
from model.training.mnist import to_features

N_TOP_CONFUSIONS = 10
"""Confusion pairs listed in the report and the summary."""

MAX_MISCLASSIFIED = 100
"""Wrong answers drawn in the misclassified grid."""

def confusion_matrix(y_true, y_pred, n_classes=N_CLASSES):
    """Return the confusion matrix: counts[t, p] = samples of class t predicted as p.

    y_true, y_pred : ndarray of shape (n_samples,), integers in [0, n_classes)
    Returns ndarray of shape (n_classes, n_classes), int64; rows are the true
    classes, columns the predicted ones.
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(f"y_true and y_pred must be 1-D of the same length, got {y_true.shape} and {y_pred.shape}")
    for name, y in (("y_true", y_true), ("y_pred", y_pred)):
        if y.size and (y.dtype.kind not in "iu" or y.min() < 0 or y.max() >= n_classes):
            raise ValueError(f"{name} must hold integers in [0, {n_classes}), got {y.dtype} in [{y.min()}, {y.max()}]")
    flat = y_true.astype(np.int64) * n_classes + y_pred.astype(np.int64)
    return np.bincount(flat, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def accuracy(confusion):
    """Return the fraction of right answers in a confusion matrix (NaN when it is empty)."""
    total = confusion.sum()
    return float(np.trace(confusion) / total) if total else math.nan


def top_confusions(confusion, k=N_TOP_CONFUSIONS):
    """Return the k most frequent wrong (true, predicted, count) triples, most frequent first.

    Only pairs that occur are listed; ties go to the smaller true digit, then
    the smaller predicted digit.
    """
    errors = confusion.copy()
    np.fill_diagonal(errors, 0)
    counts = errors.ravel()
    order = np.lexsort((np.arange(counts.size), -counts))
    order = order[counts[order] > 0][:k]
    true, predicted = np.divmod(order, len(confusion))
    return [(int(t), int(p), int(counts[i])) for t, p, i in zip(true, predicted, order)]


def most_confident_errors(probabilities, y_true, limit=MAX_MISCLASSIFIED):
    """Return the indices of the wrong answers, the most confident first, at most `limit`.

    probabilities : ndarray of shape (n_samples, n_classes)
    y_true        : ndarray of shape (n_samples,)
    The confidence of a wrong answer is the probability of the class predicted.
    """
    predicted = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predicted != y_true)
    confidence = probabilities[wrong, predicted[wrong]]
    return wrong[np.argsort(-confidence, kind="stable")][:limit]


class Scores(NamedTuple):
    """A network's answers on a labelled set.

    probabilities : ndarray of shape (n_samples, 10), float32
    predicted     : ndarray of shape (n_samples,), the most probable digit
    confusion     : ndarray of shape (10, 10), int64, rows true, columns predicted
    is_digit      : ndarray of shape (n_samples,), bool, False where the model
                    answers "not a digit" (all True for a model without a head)
    """

    probabilities: np.ndarray
    predicted: np.ndarray
    confusion: np.ndarray
    is_digit: np.ndarray

    @property
    def confidence(self):
        """The probability of each predicted digit, shape (n_samples,)."""
        return self.probabilities[np.arange(len(self.predicted)), self.predicted]


def score(network, images, labels):
    """Return the network's Scores on images (n, 28, 28) uint8 with labels (n,).

    The model's `recognise` gives the probabilities and is_digit from one
    forward pass, as the server answers a drawing.
    """
    probabilities, is_digit, _ = network.recognise(to_features(images))
    predicted = probabilities.argmax(axis=1)
    return Scores(probabilities, predicted, confusion_matrix(labels, predicted), np.asarray(is_digit, dtype=bool))
