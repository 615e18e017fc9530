"""The evaluation report: its numbers, its files, the command line."""

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from bench.support.server import PROJECT_ROOT
from model.constants import IMAGE_SIDE, N_CLASSES, N_PIXELS
from model.evaluation.evaluate import format_summary, main, write_report
from model.network import Network
from model.rejection import NotDigitHead
from model.report_files import REPORT_JSON, REPORT_PICTURES
from model.training.mnist import to_features

REPORT_FILES = {REPORT_JSON, *REPORT_PICTURES.values()}

HISTORY = [
    {"epoch": 1, "train_loss": 0.9, "train_accuracy": 0.71, "val_loss": 0.8, "val_accuracy": 0.74},
    {"epoch": 2, "train_loss": 0.5, "train_accuracy": 0.86, "val_loss": 0.55, "val_accuracy": 0.84},
    {"epoch": 3, "train_loss": 0.3, "train_accuracy": 0.91, "val_loss": 0.42, "val_accuracy": 0.88},
]


@pytest.fixture()
def tiny_network():
    """A 784-16-10 network, untrained, with a short training record in its metadata."""
    network = Network.initialise((N_PIXELS, 16, N_CLASSES), np.random.default_rng(0))
    network.metadata = {
        "command": "python -m model.training.train --preset tiny",
        "trained_at": "2026-01-02T03:04:05Z",
        "training_seconds": 1.5,
        "history": HISTORY,
        "best_epoch": 3,
        "val_accuracy": 0.88,
        "test_accuracy": 0.1,
    }
    return network


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
    assert report["training"]["command"] == "python -m model.training.train --preset tiny"
    assert report["training"]["epochs"] == len(HISTORY)
    assert report["evaluated_at"] == "2026-01-02T05:00:00Z"
    assert report["images"] == REPORT_PICTURES
    for name in REPORT_PICTURES.values():
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
        [sys.executable, "-m", "model.evaluation.evaluate", "--model", str(model_path), "--report", str(tmp_path / "report")],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60, check=False,
    )
    assert completed.returncode != 0
    assert f"error: cannot load the model: {model_path}: {problem}" in completed.stderr
    assert "Traceback" not in completed.stderr
    assert not (tmp_path / "report").exists()


MEASURED = {
    "digits_counted": 200,
    "digits_rejected": 0.01,
    "others_counted": 90,
    "others_rejected": 0.6,
    "others_most_accepted": {"+": {"n": 30, "rejected": 0.5}, "c": {"n": 40, "rejected": 0.25},
                             "x": {"n": 20, "rejected": 0.25}},
}
"""Figures a head's training measured on measuring writers, as model.training.train_rejection records them."""


@pytest.fixture()
def scored_set():
    """Sixty random 28 × 28 images with random labels: (images uint8, labels)."""
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(60, IMAGE_SIDE, IMAGE_SIDE), dtype=np.uint8)
    return images, rng.integers(0, N_CLASSES, size=60).astype(np.uint8)


@pytest.fixture()
def network_with_head(tiny_network, scored_set):
    """The tiny network with an untrained not-a-digit head whose threshold rejects about half the set."""
    head = NotDigitHead.initialise((1,), 16, (4,), np.random.default_rng(2))
    activations = tiny_network.forward(to_features(scored_set[0]))
    head.threshold = float(np.median(head.score(activations)))
    head.metadata = {"command": "python -m model.training.train_rejection --seed 0", "trained_at": "2026-01-03T00:00:00Z",
                     "generated_kinds": ["scribble"], "measuring_writers": MEASURED}
    return tiny_network.with_not_digit(head)


def test_report_counts_the_test_digits_the_served_model_rejects(network_with_head, scored_set, tmp_path):
    images, labels = scored_set
    is_digit = network_with_head.recognise(to_features(images)).is_digit

    report = write_report(network_with_head, images, labels, tmp_path, evaluated_at="2026-01-02T05:00:00Z")

    test = report["not_digit"]["mnist_test"]
    assert 0 < test["rejected_count"] == np.count_nonzero(~is_digit) < len(labels)
    assert test["rejected"] == pytest.approx(test["rejected_count"] / len(labels))
    assert test["rejected_per_digit"] == [
        pytest.approx(np.mean(~is_digit[labels == digit])) for digit in range(N_CLASSES)
    ]
    predicted = network_with_head.predict(to_features(images))
    assert test["errors_rejected"] == np.count_nonzero((predicted != labels) & ~is_digit)
    assert report["not_digit"]["threshold"] == network_with_head.not_digit.threshold
    assert json.loads((tmp_path / REPORT_JSON).read_text())["not_digit"] == report["not_digit"]


def test_report_carries_the_heads_measured_figures_and_says_where_they_come_from(network_with_head, scored_set,
                                                                                 tmp_path):
    report = write_report(network_with_head, *scored_set, tmp_path)

    rejection = report["not_digit"]
    assert rejection["measuring_writers"] == MEASURED
    assert "python -m model.training.measure" in rejection["measuring_writers_source"]
    assert "UNIPEN writers never used for training" in rejection["measuring_writers_source"]
    assert rejection["command"] == "python -m model.training.train_rejection --seed 0"
    assert [entry["character"] for entry in rejection["most_accepted"]] == ["c", "x", "+"], \
        "least rejected first, then more samples"


def test_summary_prints_the_rejection_figures(network_with_head, scored_set, tmp_path):
    report = write_report(network_with_head, *scored_set, tmp_path)
    test = report["not_digit"]["mnist_test"]

    summary = format_summary(report)

    assert f"{test['rejected']:.2%} of the MNIST test digits rejected ({test['rejected_count']} of 60" in summary
    assert "Measured by its training on UNIPEN measuring writers: 60.00% of 90 letters and symbols rejected" in summary
    assert "Most often taken for digits: c (25.0% of 40 rejected), x (25.0% of 20 rejected)" in summary


def test_a_model_without_a_head_has_no_rejection_figures(tiny_network, scored_set, tmp_path):
    report = write_report(tiny_network, *scored_set, tmp_path)

    assert report["not_digit"] is None
    assert "this model has no not-a-digit head" in format_summary(report)
