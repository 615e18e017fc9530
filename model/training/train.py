"""Train the digit recogniser on MNIST and save it as a model file.

    python -m model.training.train --data ../shared/mnist --preset quick --out model/weights.npz
    python -m model.training.train --data ../shared/mnist --preset full --seed 1 --out model/weights.npz

A preset fills in every hyper-parameter; any flag given explicitly wins over
it. Training holds out a validation split of the training set, keeps the
weights of the epoch with the best validation accuracy, and scores the test
set once, at the very end, only to record it: the test set chooses nothing.

Press Ctrl-C to stop early: the best model so far is scored and saved.
"""

import argparse
import math
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import scipy

from model.constants import IMAGE_SIDE, N_CLASSES, N_PIXELS
from model.formatting import duration, utc_timestamp
from model.network import DTYPE, Network, cross_entropy
from model.preprocess import PREPROCESSING_VERSION
from model.training.augment import KINDS, Augmenter, AugmentParams, parse_kinds
from model.training.mnist import SHA256, MnistError, load_mnist, to_features
from model.training.optimizers import DEFAULT_MOMENTUM, LR_SCHEDULES, OPTIMIZERS, learning_rate_at, make_optimizer
from model.training.progress import ProgressBar
from model.training.scoring import loss_and_accuracy
from model.training.writing_styles import Styler

MODEL_FORMAT = "digit-recogniser model"
"""The metadata's "format" field, naming what kind of file this is."""

PRESETS = {
    "quick": {
        "hidden": (800,),
        "epochs": 6,
        "batch_size": 128,
        "optimizer": "adam",
        "learning_rate": 3e-3,
        "lr_schedule": "cosine",
        "l2": 1e-5,
        "augment": ("affine",),
        "styles": False,
    },
    "full": {
        "hidden": (800, 800),
        "epochs": 150,
        "batch_size": 128,
        "optimizer": "adam",
        "learning_rate": 2e-3,
        "lr_schedule": "cosine",
        "l2": 1e-5,
        "augment": KINDS,
        "styles": True,
    },
}
"""Hyper-parameters of each preset, measured on this project's two-core machine.

quick: about 25 s and 98 % test accuracy, for development; it beats
scikit-learn's MLPClassifier on time and accuracy (bench.train_speed).
full: the committed model, about 7.5 s an epoch, so some 18 minutes alone.
Two hidden layers and the writing styles: in 30-epoch pilots scored on
2,000 development drawings at five stroke widths, the styles took one
hidden layer of 800 from 95.9 % to 96.7 %, and a second layer to 97.3 %;
150 epochs instead of 100 took the full run from 97.85 % to 97.99 %.

Both keep a little L2 decay: besides regularising, it pulls the weights of
pixels that MNIST never inks (the border) towards zero, where otherwise their
random initial values would weigh any ink a user draws there.
"""

DEFAULT_PRESET = "quick"

PRESET_FLAGS = (*PRESETS[DEFAULT_PRESET], "momentum", "validation_size", "limit")
"""Flags that are None unless given, so that the preset (or the config's default) fills them."""

VALIDATION_FRACTION = 1 / 12
"""Share of the training set held out for validation unless --validation-size
is given: 5,000 of MNIST's 60,000."""

AUGMENT_BLOCK = 4096
"""Training samples distorted together, so that augmentation works on large
vectorised chunks while the minibatches stay small."""

EXIT_INTERRUPTED = 130
"""Exit status after Ctrl-C, as a shell reports it (the model is still saved)."""


class TrainingError(Exception):
    """Training cannot start or went wrong (bad hyper-parameters, diverged weights)."""


@dataclass(frozen=True)
class TrainingConfig:
    """Every choice that shapes a training run.

    hidden          : sizes of the hidden layers, e.g. (800,) or (512, 256)
    validation_size : training samples held out; None for VALIDATION_FRACTION
    limit           : train on the first `limit` training samples only (None: all)
    augment         : kinds of augmentation, a subset of model.training.augment.KINDS
    styles          : draw the writing styles MNIST lacks: flags, bases and feet on 1s,
                      slashes through 0s, hooks on 9s (model.training.writing_styles)
    """

    hidden: tuple = PRESETS[DEFAULT_PRESET]["hidden"]
    epochs: int = PRESETS[DEFAULT_PRESET]["epochs"]
    batch_size: int = PRESETS[DEFAULT_PRESET]["batch_size"]
    optimizer: str = PRESETS[DEFAULT_PRESET]["optimizer"]
    learning_rate: float = PRESETS[DEFAULT_PRESET]["learning_rate"]
    momentum: float = DEFAULT_MOMENTUM
    lr_schedule: str = PRESETS[DEFAULT_PRESET]["lr_schedule"]
    l2: float = PRESETS[DEFAULT_PRESET]["l2"]
    augment: tuple = PRESETS[DEFAULT_PRESET]["augment"]
    augment_params: AugmentParams = field(default_factory=AugmentParams)
    styles: bool = PRESETS[DEFAULT_PRESET]["styles"]
    validation_size: int = None
    limit: int = None
    seed: int = 0
    preset: str = DEFAULT_PRESET

    def __post_init__(self):
        checks = [
            (len(self.hidden) >= 1 and all(isinstance(size, int) and size >= 1 for size in self.hidden),
             "hidden", "one or more positive layer sizes"),
            (self.epochs >= 1, "epochs", "at least 1"),
            (self.batch_size >= 1, "batch_size", "at least 1"),
            (self.optimizer in OPTIMIZERS, "optimizer", f"one of {', '.join(OPTIMIZERS)}"),
            (math.isfinite(self.learning_rate) and self.learning_rate > 0, "learning_rate", "a number > 0"),
            (0 <= self.momentum < 1, "momentum", "in [0, 1)"),
            (self.lr_schedule in LR_SCHEDULES, "lr_schedule", f"one of {', '.join(LR_SCHEDULES)}"),
            (math.isfinite(self.l2) and self.l2 >= 0, "l2", "a number >= 0"),
            (set(self.augment) <= set(KINDS), "augment", f"a subset of {', '.join(KINDS)}"),
            (self.validation_size is None or self.validation_size >= 1, "validation_size", "at least 1"),
            (self.limit is None or self.limit >= 2, "limit", "at least 2"),
            (self.preset is None or self.preset in PRESETS, "preset", f"one of {', '.join(PRESETS)}"),
        ]
        for ok, name, wanted in checks:
            if not ok:
                raise TrainingError(f"{name} must be {wanted}, got {getattr(self, name)!r}")

    def layer_sizes(self):
        """Return the network's layer sizes, input first."""
        return (N_PIXELS, *self.hidden, N_CLASSES)


class TrainingResult(NamedTuple):
    """What `train` returns: the best network (metadata filled in) and whether Ctrl-C cut it short."""

    network: Network
    interrupted: bool


def split_validation(n_samples, validation_size, rng):
    """Return (train_indices, validation_indices), a random split of range(n_samples)."""
    if validation_size is None:
        validation_size = max(1, round(n_samples * VALIDATION_FRACTION))
    if validation_size >= n_samples:
        raise TrainingError(f"validation_size {validation_size} leaves no training samples out of {n_samples}")
    order = rng.permutation(n_samples)
    return np.sort(order[validation_size:]), np.sort(order[:validation_size])


def split_data(config, data, rng):
    """Return (train_images (n, 28, 28), train_labels, validation_X (m, 784), validation_y) as floats in [0, 1]."""
    images, labels = data.train_images, data.train_labels
    if config.limit is not None:
        images, labels = images[: config.limit], labels[: config.limit]
    train_indices, validation_indices = split_validation(len(labels), config.validation_size, rng)
    train_images = to_features(images[train_indices]).reshape(-1, IMAGE_SIDE, IMAGE_SIDE)
    validation_X = to_features(images[validation_indices])
    return (
        train_images,
        labels[train_indices].astype(np.intp),
        validation_X,
        labels[validation_indices].astype(np.intp),
    )


class Trainer:
    """The moving parts of one run: network, optimiser, augmenter, random streams and step count."""

    def __init__(self, config, n_train, init_rng, shuffle_rng, augment_rng, style_rng):
        self.config = config
        self.network = Network.initialise(config.layer_sizes(), init_rng)
        self.parameters = self.network.weights + self.network.biases
        self.optimizer = make_optimizer(config.optimizer, self.parameters, config.momentum)
        self.augmenter = Augmenter(config.augment, config.augment_params)
        self.styler = Styler() if config.styles else None
        self.shuffle_rng, self.augment_rng, self.style_rng = shuffle_rng, augment_rng, style_rng
        self.steps_per_epoch = math.ceil(n_train / config.batch_size)
        self.total_steps = config.epochs * self.steps_per_epoch
        self.step = 0

    def learning_rate(self):
        """Return the scheduled learning rate of the next step."""
        return learning_rate_at(self.config.lr_schedule, self.config.learning_rate, self.step / self.total_steps)

    def run_epoch(self, images, labels, bar):
        """Train one epoch on freshly shuffled, freshly distorted images; return (mean loss, accuracy).

        images : ndarray of shape (n_samples, 28, 28), float32 in [0, 1]
        labels : ndarray of shape (n_samples,)
        """
        config, network, l2 = self.config, self.network, DTYPE(self.config.l2)
        loss_sum, correct, seen = 0.0, 0, 0
        order = self.shuffle_rng.permutation(len(labels))
        for block_start in range(0, len(order), AUGMENT_BLOCK):
            block = order[block_start : block_start + AUGMENT_BLOCK]
            block_y = labels[block]
            block_images = images[block]
            if self.styler is not None:
                block_images = self.styler(block_images, block_y, self.style_rng)
            block_X = self.augmenter(block_images, self.augment_rng).reshape(len(block), N_PIXELS)
            for start in range(0, len(block), config.batch_size):
                X = block_X[start : start + config.batch_size]
                y = block_y[start : start + config.batch_size]
                activations = network.forward(X)
                probabilities = activations[-1]
                # The loss shown is the cross-entropy alone, comparable with
                # the validation loss; the decay enters only the gradients.
                loss = cross_entropy(probabilities, y)
                weight_gradients, bias_gradients = network.backward(activations, y)
                if l2:
                    for gradient, W in zip(weight_gradients, network.weights):
                        gradient += l2 * W
                self.optimizer.step(self.parameters, weight_gradients + bias_gradients, self.learning_rate())
                self.step += 1
                loss_sum += loss * len(y)
                correct += int(np.count_nonzero(probabilities.argmax(axis=1) == y))
                seen += len(y)
                bar.update(seen, loss_sum / seen, correct / seen, force=seen == len(order))
        return loss_sum / seen, correct / seen


def train(config, data, command="", data_sha256=None, progress=sys.stderr, log=sys.stdout):
    """Train a network as `config` says and return a TrainingResult.

    data        : model.training.mnist.Mnist (uint8 images); the test set is scored once, at the end
    command     : the command line, recorded in the metadata
    data_sha256 : {file name: SHA-256} of the data files, recorded in the metadata
    progress    : stream for the progress bar; log: stream for one line per epoch

    The returned network has the weights of the epoch with the best
    validation accuracy. Ctrl-C ends training early with the best epoch so
    far; before the first epoch ends there is none, and the
    KeyboardInterrupt propagates.
    """
    started = time.perf_counter()
    # Independent streams: changing, say, the augmentation leaves the
    # initial weights and the validation split as they were.
    init_rng, split_rng, shuffle_rng, augment_rng, style_rng = (
        np.random.default_rng(seed) for seed in np.random.SeedSequence(config.seed).spawn(5)
    )
    train_images, train_labels, validation_X, validation_y = split_data(config, data, split_rng)
    trainer = Trainer(config, len(train_labels), init_rng, shuffle_rng, augment_rng, style_rng)
    print(
        f"training {'-'.join(map(str, config.layer_sizes()))} on {len(train_labels)} samples, "
        f"validating on {len(validation_y)}; {config.epochs} epochs of {trainer.steps_per_epoch} steps, "
        f"{config.optimizer}, augmentation: {', '.join(trainer.augmenter.kinds) or 'none'}"
        f"{', writing styles' if config.styles else ''}",
        file=log,
        flush=True,
    )
    history, best, interrupted, bar = [], None, False, None
    width = len(str(config.epochs))
    try:
        for epoch in range(1, config.epochs + 1):
            epoch_started = time.perf_counter()
            learning_rate = trainer.learning_rate()
            bar = ProgressBar(progress, f"epoch {epoch}/{config.epochs}", len(train_labels))
            train_loss, train_accuracy = trainer.run_epoch(train_images, train_labels, bar)
            bar.clear()
            if not trainer.network.is_finite():
                raise TrainingError(f"the weights became NaN or infinite in epoch {epoch}: try a lower --learning-rate")
            val_loss, val_accuracy = loss_and_accuracy(trainer.network, validation_X, validation_y)
            record = {
                "epoch": epoch,
                "train_loss": train_loss,
                "train_accuracy": train_accuracy,
                "val_loss": val_loss,
                "val_accuracy": val_accuracy,
                "learning_rate": learning_rate,
                "seconds": time.perf_counter() - epoch_started,
            }
            history.append(record)
            improved = best is None or (val_accuracy, -val_loss) > (best[1]["val_accuracy"], -best[1]["val_loss"])
            if improved:
                best = ([p.copy() for p in trainer.parameters], record)
            remaining = (time.perf_counter() - started) / epoch * (config.epochs - epoch)
            print(
                f"epoch {epoch:{width}d}/{config.epochs}  train loss {train_loss:.4f} acc {train_accuracy:.4f}  "
                f"val loss {val_loss:.4f} acc {val_accuracy:.4f}  lr {learning_rate:.2e}  "
                f"{record['seconds']:.1f} s  ETA {duration(remaining)}{'  *' if improved else ''}",
                file=log,
                flush=True,
            )
    except KeyboardInterrupt:
        if bar is not None:
            bar.clear()
        if best is None:
            raise
        interrupted = True
        print(f"interrupted: keeping the best epoch so far ({best[1]['epoch']})", file=log, flush=True)

    best_parameters, best_record = best
    n_layers = len(trainer.network.weights)
    network = Network(best_parameters[:n_layers], best_parameters[n_layers:])
    _, test_accuracy = loss_and_accuracy(network, to_features(data.test_images), data.test_labels.astype(np.intp))
    network.metadata = {
        "format": MODEL_FORMAT,
        "preprocessing_version": PREPROCESSING_VERSION,
        "command": command,
        "preset": config.preset,
        "seed": config.seed,
        "hyperparameters": hyperparameters(config, trainer, len(validation_y)),
        "data_sha256": dict(data_sha256 or {}),
        "history": history,
        "best_epoch": best_record["epoch"],
        "val_accuracy": best_record["val_accuracy"],
        "test_accuracy": test_accuracy,
        "trained_at": utc_timestamp(),
        "training_seconds": time.perf_counter() - started,
        "numpy_version": np.__version__,
        "scipy_version": scipy.__version__,
    }
    return TrainingResult(network, interrupted)


def hyperparameters(config, trainer, validation_size):
    """Return the metadata's "hyperparameters" entry for a run."""
    values = {
        "hidden": list(config.hidden),
        "epochs": config.epochs,
        "batch_size": config.batch_size,
        "optimizer": config.optimizer,
        "learning_rate": config.learning_rate,
        "lr_schedule": config.lr_schedule,
        "l2": config.l2,
        "augment": trainer.augmenter.describe(),
        "styles": trainer.styler.describe() if trainer.styler is not None else None,
        "validation_size": validation_size,
        "limit": config.limit,
    }
    if config.optimizer == "momentum":
        values["momentum"] = config.momentum
    return values


def integer_list(minimum, example):
    """Return an argparse type reading comma-separated integers, each at least `minimum`, like `example`."""

    def parse(text):
        try:
            values = tuple(int(part) for part in text.split(","))
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected integers like {example}, got {text!r}") from None
        if not values or min(values) < minimum:
            raise argparse.ArgumentTypeError(f"expected integers of at least {minimum}, got {text!r}")
        return values

    return parse


parse_hidden = integer_list(1, "800 or 512,256")
"""Hidden layer sizes from "800" or "512,256" (argparse type)."""


def parse_augment(text):
    """Return augmentation kinds from "affine,elastic,thickness" (argparse type)."""
    try:
        return parse_kinds(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def preset_summary():
    """Return one line per preset listing its hyper-parameters, for --help."""
    lines = ["presets:"]
    for name, values in PRESETS.items():
        sizes = "-".join(map(str, (N_PIXELS, *values["hidden"], N_CLASSES)))
        lines.append(
            f"  {name:6s} {sizes}, {values['epochs']} epochs, batch {values['batch_size']}, "
            f"{values['optimizer']} {values['learning_rate']:g} ({values['lr_schedule']}), l2 {values['l2']:g}, "
            f"augment {','.join(values['augment']) or 'none'}{', styles' if values['styles'] else ''}"
        )
    return "\n".join(lines)


def build_parser():
    """Return the command-line parser; unset flags are None so that presets can fill them."""
    parser = argparse.ArgumentParser(
        prog="python -m model.training.train",
        description="Train the digit recogniser on MNIST and save the model file.",
        epilog=preset_summary() + "\n\nExplicit flags override the preset. "
        "Ctrl-C stops early and saves the best model so far.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--data", type=Path, required=True, help="folder with the four MNIST IDX files")
    parser.add_argument("--out", type=Path, required=True, help="model file to write (.npz)")
    parser.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default=DEFAULT_PRESET,
        help=f"starting set of hyper-parameters (default {DEFAULT_PRESET})",
    )
    parser.add_argument("--hidden", type=parse_hidden, help="hidden layer sizes, e.g. 800 or 512,256")
    parser.add_argument("--epochs", type=int, help="passes over the training set")
    parser.add_argument("--batch-size", type=int, help="samples per minibatch")
    parser.add_argument("--optimizer", choices=OPTIMIZERS)
    parser.add_argument("--learning-rate", type=float, help="initial learning rate")
    parser.add_argument("--momentum", type=float, help="momentum of --optimizer momentum (default 0.9)")
    parser.add_argument("--lr-schedule", choices=LR_SCHEDULES, help="how the learning rate falls over the run")
    parser.add_argument("--l2", type=float, help="L2 weight decay on the weights (not the biases)")
    augment = parser.add_mutually_exclusive_group()
    augment.add_argument(
        "--augment", type=parse_augment, help=f"comma-separated kinds of augmentation: {','.join(KINDS)}"
    )
    augment.add_argument(
        "--no-augment", dest="augment", action="store_const", const=(), help="train on the images as they are"
    )
    parser.add_argument(
        "--styles",
        action=argparse.BooleanOptionalAction,
        help="draw flags, bases and feet on some 1s, slashes through some 0s and hooks on some 9s, "
        "as many people write them",
    )
    parser.add_argument(
        "--validation-size", type=int, help="training samples held out for validation (default 1/12 of them)"
    )
    parser.add_argument("--limit", type=int, help="train on the first N training samples only")
    parser.add_argument(
        "--seed", type=int, default=0, help="seed for initialisation, split, shuffling and augmentation"
    )
    return parser


def config_from_args(args):
    """Return the TrainingConfig of parsed arguments: the preset, overridden by explicit flags."""
    values = dict(PRESETS[args.preset])
    values.update({name: getattr(args, name) for name in PRESET_FLAGS if getattr(args, name) is not None})
    return TrainingConfig(**values, seed=args.seed, preset=args.preset)


def main(argv=None):
    """Run the command line; return the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)
    except TrainingError as error:
        parser.error(str(error))
    out = args.out
    if not out.parent.is_dir():
        parser.error(f"--out {out}: folder {out.parent} does not exist")
    command = shlex.join(["python", "-m", "model.training.train", *argv])

    try:
        data = load_mnist(args.data)
    except MnistError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    try:
        result = train(config, data, command=command, data_sha256=SHA256)
    except KeyboardInterrupt:
        print("\ninterrupted before the first epoch ended: nothing saved", file=sys.stderr)
        return EXIT_INTERRUPTED
    except TrainingError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1

    network = result.network
    if not network.is_finite():
        print("error: the trained weights contain NaN or infinite values: not saved", file=sys.stderr)
        return 1
    network.save(out)
    metadata = network.metadata
    print(
        f"saved {out} ({network.version}): test accuracy {metadata['test_accuracy']:.4f}, "
        f"best epoch {metadata['best_epoch']} (val accuracy {metadata['val_accuracy']:.4f}), "
        f"{duration(metadata['training_seconds'])} of training"
    )
    return EXIT_INTERRUPTED if result.interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
