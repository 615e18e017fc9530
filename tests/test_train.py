"""The trainer: seeding, validation, Ctrl-C, the command line and its model file."""

import functools
import gzip
import io
import json
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from model.network import Network
from model.preprocess import PREPROCESSING_VERSION
from model.training.augment import KINDS
from model.training.canvas import split_training_writers
from model.training.handwriting import is_measuring_writer, load_handwriting, split_by_writer
from model.training.mnist import SHA256, Mnist, load_mnist
from model.training.train import (
    PRESETS,
    TrainingConfig,
    TrainingError,
    build_parser,
    config_from_args,
    main,
    train,
)
from model.training.trainset import NOT_A_DIGIT, Handwriting, read_handwriting

PROJECT_ROOT = Path(__file__).resolve().parent.parent

METADATA_KEYS = {
    "format",
    "preprocessing_version",
    "command",
    "preset",
    "seed",
    "hyperparameters",
    "data_sha256",
    "history",
    "best_epoch",
    "val_accuracy",
    "test_accuracy",
    "trained_at",
    "training_seconds",
    "numpy_version",
    "scipy_version",
}
HISTORY_KEYS = {"epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "learning_rate", "seconds"}

SMOKE_TIMEOUT_S = 120


def synthetic_mnist(n_train=300, n_test=60, seed=0):
    """A tiny MNIST look-alike: each class is a bar at its own place, plus noise."""
    rng = np.random.default_rng(seed)

    def make(n):
        labels = rng.integers(0, 10, size=n).astype(np.uint8)
        images = (rng.random((n, 28, 28)) < 0.05).astype(np.uint8) * 80
        for image, label in zip(images, labels):
            image[4 + 2 * label : 6 + 2 * label, 6:22] = 255
        return images, labels

    train_images, train_labels = make(n_train)
    test_images, test_labels = make(n_test)
    return Mnist(train_images, train_labels, test_images, test_labels)


def tiny_config(**changes):
    values = {"hidden": (16,), "epochs": 2, "batch_size": 32, "learning_rate": 0.01, "augment": KINDS}
    values.update(changes)
    return TrainingConfig(**values)


def quiet_train(config, data, **kwargs):
    return train(config, data, progress=io.StringIO(), log=io.StringIO(), **kwargs)


def test_same_seed_gives_identical_weights():
    data = synthetic_mnist()
    first = quiet_train(tiny_config(seed=5), data).network
    second = quiet_train(tiny_config(seed=5), data).network
    other = quiet_train(tiny_config(seed=6), data).network
    for a, b in zip(first.weights + first.biases, second.weights + second.biases):
        np.testing.assert_array_equal(a, b)
    assert first.version == second.version != other.version
    assert first.metadata["history"][0]["train_loss"] == second.metadata["history"][0]["train_loss"]


@pytest.mark.parametrize("optimizer", ["adam", "momentum"])
def test_training_learns_and_records_metadata(optimizer):
    data = synthetic_mnist()
    rate = 0.01 if optimizer == "adam" else 0.5
    config = tiny_config(optimizer=optimizer, epochs=4, learning_rate=rate, l2=1e-4, augment=())
    result = train(
        config,
        data,
        command="python -m model.training.train --x",
        data_sha256={"a": "b"},
        progress=(progress := io.StringIO()),
        log=(log := io.StringIO()),
    )
    network, metadata = result.network, result.network.metadata
    assert not result.interrupted
    assert set(metadata) == METADATA_KEYS
    assert metadata["preprocessing_version"] == PREPROCESSING_VERSION
    assert metadata["command"] == "python -m model.training.train --x"
    assert metadata["data_sha256"] == {"a": "b"}
    assert metadata["hyperparameters"]["optimizer"] == optimizer
    assert metadata["hyperparameters"]["validation_size"] == 25
    assert [record["epoch"] for record in metadata["history"]] == [1, 2, 3, 4]
    assert all(set(record) == HISTORY_KEYS for record in metadata["history"])
    best = max(metadata["history"], key=lambda record: record["val_accuracy"])
    assert metadata["val_accuracy"] == best["val_accuracy"] > 0.9
    assert metadata["test_accuracy"] > 0.9
    assert metadata["history"][-1]["train_accuracy"] > 0.9
    assert network.layer_sizes == (784, 16, 10) and network.is_finite()
    assert "samples/s" in progress.getvalue() and "ETA" in progress.getvalue()
    assert log.getvalue().count("val loss") == 4


class InterruptOnEpoch(io.StringIO):
    """A progress stream that raises KeyboardInterrupt, like Ctrl-C, once epoch `epoch` starts drawing."""

    def __init__(self, epoch):
        super().__init__()
        self.label = f"epoch {epoch}/"

    def write(self, text):
        if self.label in text:
            raise KeyboardInterrupt
        return super().write(text)


def test_ctrl_c_keeps_the_best_epoch_so_far():
    result = train(
        tiny_config(epochs=5, augment=()), synthetic_mnist(), progress=InterruptOnEpoch(3), log=io.StringIO()
    )
    assert result.interrupted
    assert [record["epoch"] for record in result.network.metadata["history"]] == [1, 2]
    assert result.network.metadata["best_epoch"] in (1, 2)


def test_ctrl_c_before_the_first_epoch_ends_propagates():
    with pytest.raises(KeyboardInterrupt):
        train(tiny_config(), synthetic_mnist(), progress=InterruptOnEpoch(1), log=io.StringIO())


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"epochs": 0}, "epochs must be at least 1"),
        ({"learning_rate": -1.0}, "learning_rate must be a number > 0"),
        ({"optimizer": "rmsprop"}, "optimizer must be one of adam, momentum"),
        ({"hidden": (0,)}, "hidden must be"),
        ({"augment": ("blur",)}, "augment must be a subset"),
    ],
)
def test_config_is_validated(changes, message):
    with pytest.raises(TrainingError, match=message):
        TrainingConfig(**changes)


def test_validation_split_must_leave_training_samples():
    with pytest.raises(TrainingError, match="validation_size 300 leaves no training samples out of 300"):
        quiet_train(tiny_config(validation_size=300), synthetic_mnist())


def parse(*argv):
    return config_from_args(build_parser().parse_args(["--data", "d", "--out", "m.npz", *argv]))


def test_styles_are_on_in_the_full_preset_only_and_switchable():
    assert parse("--preset", "full").styles and not parse("--preset", "quick").styles
    assert not parse("--preset", "full", "--no-styles").styles
    assert parse("--preset", "quick", "--styles").styles


def test_styles_are_recorded_in_the_metadata():
    styled = quiet_train(tiny_config(epochs=1, styles=True), synthetic_mnist()).network.metadata
    plain = quiet_train(tiny_config(epochs=1, styles=False), synthetic_mnist()).network.metadata
    assert styled["hyperparameters"]["styles"]["flag_rate"] > 0
    assert plain["hyperparameters"]["styles"] is None


def test_presets_and_explicit_flags():
    full = parse("--preset", "full")
    assert full.hidden == PRESETS["full"]["hidden"] and full.augment == PRESETS["full"]["augment"]
    overridden = parse("--preset", "full", "--hidden", "512,256", "--epochs", "3", "--no-augment", "--seed", "9")
    assert overridden.hidden == (512, 256) and overridden.epochs == 3 and overridden.augment == ()
    assert overridden.batch_size == PRESETS["full"]["batch_size"] and overridden.seed == 9
    assert parse("--augment", "elastic,affine").augment == ("affine", "elastic")
    assert parse().preset == "quick"


@pytest.mark.parametrize(
    "argv",
    [
        ["--hidden", "0"],
        ["--hidden", "a,b"],
        ["--augment", "blur"],
        ["--epochs", "0"],
        ["--augment", "affine", "--no-augment"],
        ["--out", "/nonexistent/folder/m.npz"],
    ],
)
def test_bad_command_lines_exit_with_usage_error(argv, capsys):
    with pytest.raises(SystemExit) as caught:
        main(["--data", "d", "--out", "m.npz", *argv])
    assert caught.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_missing_data_fails_with_the_mnist_message(tmp_path, monkeypatch, capsys):
    offline = functools.partial(load_mnist, mirrors=("http://127.0.0.1:9/",), timeout=2)
    monkeypatch.setattr("model.training.train.load_mnist", offline)
    assert main(["--data", str(tmp_path), "--out", str(tmp_path / "m.npz")]) == 1
    error = capsys.readouterr().err
    assert "train-images-idx3-ubyte.gz" in error and str(tmp_path) in error
    assert not (tmp_path / "m.npz").exists()


def test_command_line_smoke_run(mnist_dir, tmp_path):
    out = tmp_path / "model.npz"
    argv = ["--data", str(mnist_dir), "--limit", "2000", "--epochs", "1", "--out", str(out)]
    completed = subprocess.run(
        [sys.executable, "-m", "model.training.train", *argv],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=SMOKE_TIMEOUT_S,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "samples/s" in completed.stderr
    network = Network.load(out)
    metadata = network.metadata
    assert set(metadata) == METADATA_KEYS
    assert len(metadata["history"]) == 1 and set(metadata["history"][0]) == HISTORY_KEYS
    assert metadata["command"] == shlex.join(["python", "-m", "model.training.train", *argv])
    assert metadata["data_sha256"] == SHA256
    assert metadata["hyperparameters"]["limit"] == 2000
    assert metadata["hyperparameters"]["epochs"] == 1
    assert metadata["preset"] == "quick" and metadata["best_epoch"] == 1
    assert 0.5 < metadata["test_accuracy"] <= 1.0
    assert f"saved {out}" in completed.stdout


# ---- Canvas handwriting and what is not a digit ----

HANDWRITING_KEYS = {"calibration", "test_not_digit", "handwriting"}


@pytest.fixture(scope="module")
def small_handwriting(handwriting_path, others_path):
    """A few training writers' digits and letters, fitting and calibration writers apart, as read_handwriting splits them."""
    digits, _ = split_by_writer(load_handwriting(handwriting_path))
    others, _ = split_by_writer(load_handwriting(others_path))
    fitting_digits, calibration_digits = split_training_writers(digits)
    fitting_others, calibration_others = split_training_writers(others)
    return Handwriting(fitting_digits[:150], fitting_others[:100], calibration_digits[:60], calibration_others[:40])


def handwriting_config(**changes):
    return tiny_config(epochs=1, augment=(), variants=1, refresh=0.5, generated=21, **changes)


def test_handwriting_training_is_seeded_and_records_itself(small_handwriting):
    data = synthetic_mnist()
    first = quiet_train(handwriting_config(seed=3), data, handwriting=small_handwriting).network
    second = quiet_train(handwriting_config(seed=3), data, handwriting=small_handwriting).network
    for a, b in zip(first.weights + first.biases, second.weights + second.biases):
        np.testing.assert_array_equal(a, b)
    assert first.calibration == second.calibration
    labels = sorted({sample["label"] for sample in small_handwriting.others})
    assert first.output_labels == (*labels, NOT_A_DIGIT)
    assert first.layer_sizes == (784, 16, 10 + len(labels) + 1)
    assert set(first.metadata) == METADATA_KEYS | HANDWRITING_KEYS
    assert first.metadata["handwriting"]["fitting_digits"] == 150
    assert {"canvas_accuracy", "rejection"} <= set(first.metadata["history"][0])
    assert first.calibration["temperature"] > 0 and 0 <= first.calibration["digit_threshold"] <= 1


def test_one_not_a_digit_output_when_asked(small_handwriting):
    network = quiet_train(handwriting_config(negatives="one"), synthetic_mnist(), handwriting=small_handwriting).network
    assert network.output_labels == (NOT_A_DIGIT,) and network.layer_sizes[-1] == 11


def test_fine_tuning_starts_from_the_given_network(small_handwriting):
    data = synthetic_mnist()
    base = quiet_train(tiny_config(epochs=1, augment=()), data).network
    tuned = quiet_train(handwriting_config(learning_rate=1e-9), data, handwriting=small_handwriting,
                        initial=base).network
    np.testing.assert_allclose(tuned.weights[0], base.weights[0], atol=1e-6)
    np.testing.assert_allclose(tuned.weights[1][:, :10], base.weights[1], atol=1e-6)
    assert tuned.metadata["initialised_from"]["version"] == base.version


@pytest.mark.parametrize(("changes", "message"), [
    ({"seed": 1}, "--seed 0"),
    ({"validation_size": 40}, "--validation-size 30"),
])
def test_fine_tuning_keeps_the_initial_validation_split(changes, message):
    data = synthetic_mnist()
    base = quiet_train(tiny_config(epochs=1, augment=(), validation_size=30), data).network
    with pytest.raises(TrainingError, match=message):
        quiet_train(tiny_config(**{"epochs": 1, "augment": (), "validation_size": 30, **changes}), data,
                    initial=base)


def test_extra_handwriting_files_join_the_training_writers(tmp_path, handwriting_path):
    extra = tmp_path / "corrections.jsonl.gz"
    strokes = [[[10.0, 10.0], [10.0, 100.0]]]
    rows = [{"label": 1, "strokes": strokes, "writer": "corrections/w1"},
            {"label": None, "strokes": strokes},
            {"label": "a", "strokes": strokes, "writer": "corrections/w1"}]
    with gzip.open(extra, "wt", encoding="utf-8") as file:
        file.write("\n".join(json.dumps(row) for row in rows))
    plain = read_handwriting(handwriting_path.parent)
    extended = read_handwriting(handwriting_path.parent, [extra])
    added = (len(extended.digits) + len(extended.calibration_digits)
             - len(plain.digits) - len(plain.calibration_digits))
    added_others = (len(extended.others) + len(extended.calibration_others)
                    - len(plain.others) - len(plain.calibration_others))
    assert (added, added_others) == (1, 2)
    every = extended.digits + extended.others + extended.calibration_digits + extended.calibration_others
    assert not any(is_measuring_writer(sample["writer"]) for sample in every if sample.get("writer"))
