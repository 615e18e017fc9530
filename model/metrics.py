"""How good a network's answers are on a labelled set: confusion matrix, accuracies, worst errors, rejections.

Pure functions of arrays: the evaluation report, the benchmarks and the
/model page's heat map all count and shade in the same way.
"""

import math
from typing import NamedTuple

import numpy as np

from model import N_CLASSES
from model.mnist import to_features
from model.network import cross_entropies

N_TOP_CONFUSIONS = 10
"""Confusion pairs listed in the report and the summary."""

MAX_MISCLASSIFIED = 100
"""Wrong answers drawn in the misclassified grid."""

EVALUATION_BATCH = 2000
"""Samples per forward pass when scoring during training, to bound memory."""


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


def per_digit_accuracy(confusion):
    """Return the accuracy on each true class, shape (n_classes,), NaN for a class without samples."""
    samples = confusion.sum(axis=1)
    result = np.full(len(confusion), np.nan)
    np.divide(np.diag(confusion), samples, out=result, where=samples > 0)
    return result


def confusion_shades(confusion):
    """Return how dark each cell of a confusion heat map is, shape (n_classes, n_classes), in [0, 1].

    Right answers (the diagonal) are shaded by their share of the row; wrong
    ones relative to the most frequent confusion, so that a handful of
    errors still shows beside a thousand right answers. An empty row is 0.
    """
    confusion = np.asarray(confusion)
    errors = confusion.astype(np.float64)
    np.fill_diagonal(errors, 0)
    worst = errors.max()
    shades = errors / worst if worst else errors
    np.fill_diagonal(shades, np.nan_to_num(per_digit_accuracy(confusion)))
    return shades


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
    probabilities, is_digit = network.recognise(to_features(images))
    predicted = probabilities.argmax(axis=1)
    return Scores(probabilities, predicted, confusion_matrix(labels, predicted), np.asarray(is_digit, dtype=bool))


def most_accepted_characters(others_most_accepted):
    """Return the characters a not-a-digit head most often took for digits, most accepted first.

    others_most_accepted : {character: {"n": samples, "rejected": share}}, as
                           model.train_rejection records it
    Returns a list of (character, samples, share rejected); ties go to the
    character with more samples, then to the character itself. Entries
    without a finite share come last.
    """
    rows = [
        (character, _count(entry.get("n")), entry.get("rejected"))
        for character, entry in others_most_accepted.items()
        if isinstance(entry, dict)
    ]
    rows.sort(key=lambda row: (_finite_or_inf(row[2]), -row[1], row[0]))
    return rows


def _count(value):
    """Return value as a whole count, 0 when it is not a finite number."""
    return int(value) if isinstance(value, (int, float)) and math.isfinite(value) else 0


def _finite_or_inf(value):
    return value if isinstance(value, (int, float)) and math.isfinite(value) else math.inf


def loss_and_accuracy(network, X, y):
    """Return (mean cross-entropy, accuracy) of `network` on features X (n, 784) and labels y (n,).

    The trainer's measure of each epoch, on the validation split, and of the
    chosen network on the test set.
    """
    total_loss, correct = 0.0, 0
    for start in range(0, len(y), EVALUATION_BATCH):
        probabilities = network.forward(X[start : start + EVALUATION_BATCH])[-1]
        labels = y[start : start + EVALUATION_BATCH]
        total_loss += float(cross_entropies(probabilities, labels).sum())
        correct += int(np.count_nonzero(probabilities.argmax(axis=1) == labels))
    return total_loss / len(y), correct / len(y)
