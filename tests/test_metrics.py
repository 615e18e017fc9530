"""The metrics: counts, accuracies, shades and worst errors on hand-made examples."""

import math

import numpy as np
import pytest

from model.constants import N_CLASSES, N_PIXELS
from model.evaluation.metrics import accuracy, confusion_matrix, most_confident_errors, top_confusions
from model.network import Network, cross_entropy
from model.report_files import confusion_shades, per_digit_accuracy
from model.training.scoring import EVALUATION_BATCH, loss_and_accuracy


def confusion_with(pairs, diagonal=0):
    """Return a 10×10 matrix with `diagonal` right answers per digit and {(true, predicted): count} errors."""
    confusion = np.eye(N_CLASSES, dtype=np.int64) * diagonal
    for (true, predicted), count in pairs.items():
        confusion[true, predicted] = count
    return confusion


def test_confusion_matrix_counts_each_true_predicted_pair():
    y_true = np.array([0, 0, 1, 2, 2, 2, 9])
    y_pred = np.array([0, 1, 1, 2, 0, 2, 4])
    expected = np.zeros((N_CLASSES, N_CLASSES), dtype=np.int64)
    expected[0, 0] = 1
    expected[0, 1] = 1
    expected[1, 1] = 1
    expected[2, 2] = 2
    expected[2, 0] = 1
    expected[9, 4] = 1
    np.testing.assert_array_equal(confusion_matrix(y_true, y_pred), expected)


@pytest.mark.parametrize(
    ("y_true", "y_pred", "message"),
    [
        ([0, 1], [0], "same length"),
        ([0, 10], [0, 1], "y_true must hold integers in"),
        ([0, 1], [-1, 1], "y_pred must hold integers in"),
        ([0.0, 1.0], [0, 1], "y_true must hold integers in"),
    ],
)
def test_confusion_matrix_rejects_bad_labels_naming_them(y_true, y_pred, message):
    with pytest.raises(ValueError, match=message):
        confusion_matrix(np.array(y_true), np.array(y_pred))


def test_top_confusions_are_the_most_frequent_errors_first_ties_by_digit():
    confusion = confusion_with({(4, 9): 7, (7, 2): 3, (3, 5): 7, (9, 4): 3, (1, 7): 1}, diagonal=100)
    assert top_confusions(confusion, k=4) == [(3, 5, 7), (4, 9, 7), (7, 2, 3), (9, 4, 3)]


def test_top_confusions_leave_out_pairs_that_never_occur():
    assert top_confusions(confusion_with({(8, 3): 2}, diagonal=50), k=10) == [(8, 3, 2)]


def test_per_digit_accuracy_is_right_answers_over_samples_of_that_digit():
    confusion = confusion_with({(0, 6): 1, (1, 7): 3}, diagonal=9)
    confusion[5] = 0
    result = per_digit_accuracy(confusion)
    assert result[0] == pytest.approx(0.9)
    assert result[1] == pytest.approx(0.75)
    assert result[2] == 1.0
    assert math.isnan(result[5])
    assert accuracy(confusion) == pytest.approx(81 / 85)


def test_most_confident_errors_come_first_and_right_answers_never():
    probabilities = np.array([
        [0.9, 0.1],  # right
        [0.6, 0.4],  # wrong, 0.6
        [0.2, 0.8],  # wrong, 0.8
        [0.3, 0.7],  # right
        [0.05, 0.95],  # wrong, 0.95
    ])
    y_true = np.array([0, 1, 0, 1, 0])
    np.testing.assert_array_equal(most_confident_errors(probabilities, y_true), [4, 2, 1])
    np.testing.assert_array_equal(most_confident_errors(probabilities, y_true, limit=2), [4, 2])


def test_confusion_shades_share_of_the_row_on_the_diagonal_worst_error_elsewhere():
    confusion = confusion_with({(4, 9): 12, (7, 1): 3}, diagonal=36)
    confusion[5] = 0
    shades = confusion_shades(confusion)
    assert shades[0, 0] == 1.0
    assert shades[4, 4] == pytest.approx(36 / 48)
    assert shades[4, 9] == 1.0
    assert shades[7, 1] == pytest.approx(3 / 12)
    assert shades[5, 5] == 0.0 and shades[0, 1] == 0.0


def test_loss_and_accuracy_do_not_depend_on_the_batching():
    rng = np.random.default_rng(3)
    network = Network.initialise((N_PIXELS, 8, N_CLASSES), rng)
    X = rng.random((EVALUATION_BATCH + 37, N_PIXELS), dtype=np.float32)
    y = rng.integers(0, N_CLASSES, size=len(X))
    loss, right = loss_and_accuracy(network, X, y)
    probabilities = network.forward(X)[-1]
    assert loss == pytest.approx(cross_entropy(probabilities, y), rel=1e-6)
    assert right == np.mean(probabilities.argmax(axis=1) == y)
