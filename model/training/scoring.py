"""The trainer's measure of a network on a labelled set, in batches to bound memory."""

import numpy as np

from model.network import cross_entropies

EVALUATION_BATCH = 2000
"""Samples per forward pass when scoring during training, to bound memory."""


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
