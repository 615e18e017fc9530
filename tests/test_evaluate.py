"""The evaluation report: its numbers on hand-made examples, its pictures, the command line."""

import json
import math
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from model import IMAGE_SIDE, N_CLASSES, N_PIXELS
from model.evaluate import (
    CONFUSION_MATRIX_PNG,
    CONFUSION_MATRIX_SIZE,
    FIRST_LAYER_WEIGHTS_PNG,
    LEARNING_CURVES_PNG,
    LEARNING_CURVES_SIZE,
    MISCLASSIFIED_PNG,
    NEGATIVE_COLOUR,
    POSITIVE_COLOUR,
    REPORT_JSON,
    WHITE,
    accuracy,
    confusion_matrix,
    diverging_colours,
    draw_confusion_matrix,
    draw_first_layer_weights,
    draw_learning_curves,
    draw_misclassified,
    main,
    most_confident_errors,
    nice_ticks,
    per_digit_accuracy,
    top_confusions,
    write_report,
)
from model.network import Network
from bench.support.server import PROJECT_ROOT

REPORT_FILES = {REPORT_JSON, LEARNING_CURVES_PNG, MISCLASSIFIED_PNG, FIRST_LAYER_WEIGHTS_PNG, CONFUSION_MATRIX_PNG}

HISTORY = [
    {"epoch": 1, "train_loss": 0.9, "train_accuracy": 0.71, "val_loss": 0.8, "val_accuracy": 0.74},
    {"epoch": 2, "train_loss": 0.5, "train_accuracy": 0.86, "val_loss": 0.55, "val_accuracy": 0.84},
    {"epoch": 3, "train_loss": 0.3, "train_accuracy": 0.91, "val_loss": 0.42, "val_accuracy": 0.88},
]


def confusion_with(pairs, diagonal=0):
    """Return a 10×10 matrix with `diagonal` right answers per digit and {(true, predicted): count} errors."""
    confusion = np.eye(N_CLASSES, dtype=np.int64) * diagonal
    for (true, predicted), count in pairs.items():
        confusion[true, predicted] = count
    return confusion


@pytest.fixture()
def tiny_network():
    """A 784-16-10 network, untrained, with a short training record in its metadata."""
    network = Network.initialise((N_PIXELS, 16, N_CLASSES), np.random.default_rng(0))
    network.metadata = {
        "command": "python -m model.train --preset tiny",
        "trained_at": "2026-01-02T03:04:05Z",
        "training_seconds": 1.5,
        "history": HISTORY,
        "best_epoch": 3,
        "val_accuracy": 0.88,
        "test_accuracy": 0.1,
    }
    return network


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


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (0.873, 0.991, [0.85, 0.9, 0.95, 1.0]),
        (0.02, 0.74, [0.0, 0.2, 0.4, 0.6, 0.8]),
        (1, 30, [0, 10, 20, 30]),
        (3, 3, [2, 3, 4]),
    ],
)
def test_nice_ticks_are_round_numbers_that_cover_the_data(low, high, expected):
    integer = isinstance(low, int)
    np.testing.assert_allclose(nice_ticks(low, high, integer=integer), expected)


def test_diverging_colours_go_from_blue_through_white_to_red():
    colours = diverging_colours(np.array([-1.0, 0.0, 1.0]))
    assert [tuple(colour) for colour in colours] == [NEGATIVE_COLOUR, WHITE, POSITIVE_COLOUR]


@pytest.mark.parametrize("history", [HISTORY, HISTORY[:1], [{"epoch": 1}], []])
def test_learning_curves_have_a_fixed_size_whatever_the_history(history):
    image = draw_learning_curves(history, best_epoch=1 if history else None)
    assert image.mode == "RGB"
    assert image.size == LEARNING_CURVES_SIZE


def test_misclassified_grid_is_ten_wide_and_grows_by_rows():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(21, IMAGE_SIDE, IMAGE_SIDE), dtype=np.uint8)
    labels = np.arange(21) % N_CLASSES
    confidence = np.linspace(0.99, 0.5, 21)

    def grid(n):
        return draw_misclassified(images[:n], labels[:n], (labels[:n] + 1) % N_CLASSES, confidence[:n], 40)

    one_row, two_rows, three_rows, empty = grid(10), grid(11), grid(21), grid(0)
    assert {image.mode for image in (one_row, two_rows, three_rows, empty)} == {"RGB"}
    assert one_row.width == two_rows.width == three_rows.width == empty.width
    assert empty.height == one_row.height
    row_height = two_rows.height - one_row.height
    assert row_height > IMAGE_SIDE
    assert three_rows.height - two_rows.height == row_height


def test_first_layer_weights_show_at_most_the_units_there_are():
    weights = np.random.default_rng(0).normal(size=(N_PIXELS, 16)).astype(np.float32)
    few = draw_first_layer_weights(weights)
    two_rows = draw_first_layer_weights(weights, n_units=20)
    assert few.mode == "RGB"
    assert few.size == two_rows.size
    assert draw_first_layer_weights(weights, n_units=5).height < few.height


def test_confusion_heat_map_has_a_fixed_size():
    image = draw_confusion_matrix(confusion_with({(4, 9): 12}, diagonal=980))
    assert image.mode == "RGB"
    assert image.size == CONFUSION_MATRIX_SIZE


def test_report_is_written_with_stable_names_and_consistent_numbers(tiny_network, tmp_path):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(60, IMAGE_SIDE, IMAGE_SIDE), dtype=np.uint8)
    labels = rng.integers(0, N_CLASSES, size=60).astype(np.uint8)

    report = write_report(tiny_network, images, labels, tmp_path / "report", evaluated_at="2026-01-02T05:00:00Z")

    assert {path.name for path in (tmp_path / "report").iterdir()} == REPORT_FILES
    assert json.loads((tmp_path / "report" / REPORT_JSON).read_text()) == report
    counts = np.array(report["confusion"]["counts"])
    assert counts.shape == (N_CLASSES, N_CLASSES) and counts.sum() == 60
    assert report["accuracy"] == pytest.approx(np.trace(counts) / 60)
    assert report["errors"] == 60 - np.trace(counts) == len(report["misclassified_shown"])
    assert [entry["samples"] for entry in report["per_digit"]] == np.bincount(labels, minlength=N_CLASSES).tolist()
    assert report["model"] == {"version": tiny_network.version, "layer_sizes": [N_PIXELS, 16, N_CLASSES],
                               "parameter_count": N_PIXELS * 16 + 16 + 16 * N_CLASSES + N_CLASSES}
    assert report["training"]["command"] == "python -m model.train --preset tiny"
    assert report["training"]["epochs"] == len(HISTORY)
    assert report["evaluated_at"] == "2026-01-02T05:00:00Z"
    for name in REPORT_FILES - {REPORT_JSON}:
        with Image.open(tmp_path / "report" / name) as image:
            assert image.format == "PNG"


def test_command_line_scores_part_of_the_test_set_and_prints_a_summary(tiny_network, mnist_dir, tmp_path, capsys):
    tiny_network.save(tmp_path / "tiny.npz")

    report = main(["--model", str(tmp_path / "tiny.npz"), "--data", str(mnist_dir),
                   "--report", str(tmp_path / "report"), "--limit", "300"])

    assert {path.name for path in (tmp_path / "report").iterdir()} == REPORT_FILES
    assert report["test_set"] == {"samples": 300, "complete": False}
    output = capsys.readouterr().out
    assert f"Accuracy: {report['accuracy']:.2%} on 300 digits" in output
    assert "Per digit: 0:" in output
    assert "Top confusions (true->predicted):" in output


@pytest.mark.parametrize(
    ("contents", "problem"),
    [(None, "file not found"), (b"not a zip file", "not a readable .npz file")],
)
def test_command_line_refuses_a_missing_or_broken_model_with_a_clear_message(tmp_path, contents, problem):
    model_path = tmp_path / "weights.npz"
    if contents is not None:
        model_path.write_bytes(contents)
    completed = subprocess.run(
        [sys.executable, "-m", "model.evaluate", "--model", str(model_path), "--report", str(tmp_path / "report")],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60, check=False,
    )
    assert completed.returncode != 0
    assert f"error: cannot load the model: {model_path}: {problem}" in completed.stderr
    assert "Traceback" not in completed.stderr
    assert not (tmp_path / "report").exists()
