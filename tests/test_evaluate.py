"""The evaluation report: its numbers, its files, the command line."""

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from bench.support.server import PROJECT_ROOT
from model import IMAGE_SIDE, N_CLASSES, N_PIXELS
from model.evaluate import main, write_report
from model.network import Network
from model.report_files import REPORT_JSON, REPORT_PICTURES

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
        "command": "python -m model.train --preset tiny",
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
    assert report["training"]["command"] == "python -m model.train --preset tiny"
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
        [sys.executable, "-m", "model.evaluate", "--model", str(model_path), "--report", str(tmp_path / "report")],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60, check=False,
    )
    assert completed.returncode != 0
    assert f"error: cannot load the model: {model_path}: {problem}" in completed.stderr
    assert "Traceback" not in completed.stderr
    assert not (tmp_path / "report").exists()
