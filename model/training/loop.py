"""One training run: MNIST and canvas handwriting, epoch by epoch, keeping the best; then calibration.

Training holds out a validation split of MNIST's training set and the
calibration writers of the handwriting, keeps the weights of the epoch that
does best on them, calibrates on them (`model.training.calibrate`), and
scores MNIST's test set once, at the very end, only to record it: the test
set chooses nothing.
"""

import math
import sys
import time
from typing import NamedTuple

import numpy as np
import scipy

from model.constants import IMAGE_SIDE, N_CLASSES, N_PIXELS
from model.formatting import duration, utc_timestamp
from model.network import DTYPE, Network, cross_entropy
from model.preprocess import PREPROCESSING_VERSION
from model.training.augment import Augmenter
from model.training.calibrate import calibrate
from model.training.config import AUGMENT_BLOCK, MODEL_FORMAT, VALIDATION_FRACTION, TrainingError
from model.training.mnist import to_features
from model.training.optimizers import learning_rate_at, make_optimizer
from model.training.progress import ProgressBar
from model.training.scoring import loss_and_accuracy
from model.training.trainset import CHARACTER, DIGIT, GENERATED, GENERATED_KINDS, HandwritingSet, output_labels
from model.training.writing_styles import Styler


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

    def __init__(self, config, n_train, labels, rngs, initial=None):
        self.config = config
        init_rng, self.shuffle_rng, self.augment_rng, self.style_rng = rngs
        self.network = Network.initialise(config.layer_sizes(N_CLASSES + len(labels)), init_rng, output_labels=labels)
        if initial is not None:
            start_from(self.network, initial)
        self.parameters = self.network.weights + self.network.biases
        self.optimizer = make_optimizer(config.optimizer, self.parameters, config.momentum)
        self.augmenter = Augmenter(config.augment, config.augment_params)
        self.styler = Styler() if config.styles else None
        self.steps_per_epoch = math.ceil(n_train / config.batch_size)
        self.total_steps = config.epochs * self.steps_per_epoch
        self.step = 0

    def learning_rate(self):
        """Return the scheduled learning rate of the next step."""
        return learning_rate_at(self.config.lr_schedule, self.config.learning_rate, self.step / self.total_steps)

    def run_epoch(self, images, labels, n_mnist, bar):
        """Train one epoch on freshly shuffled, freshly distorted images; return (mean loss, accuracy).

        images  : ndarray of shape (n_samples, 28, 28), float32 in [0, 1]
        labels  : ndarray of shape (n_samples,), output indices
        n_mnist : the first n_mnist images are MNIST's, which alone get the writing styles
        """
        config, network, l2 = self.config, self.network, DTYPE(self.config.l2)
        loss_sum, correct, seen = 0.0, 0, 0
        order = self.shuffle_rng.permutation(len(labels))
        for block_start in range(0, len(order), AUGMENT_BLOCK):
            block = order[block_start : block_start + AUGMENT_BLOCK]
            block_y = labels[block]
            block_images = images[block]
            if self.styler is not None:
                mnist = block < n_mnist
                block_images[mnist] = self.styler(block_images[mnist], block_y[mnist], self.style_rng)
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


def check_same_split(initial, seed, validation_size):
    """Raise TrainingError unless this run (seed, validation_size) validates on the images `initial` held out too.

    The validation split follows the seed and the validation size: with
    others, a fine-tuned network would be validated, chosen and calibrated
    on MNIST images it was trained on. A file without a recorded seed passes.
    """
    recorded_seed = initial.metadata.get("seed")
    recorded_size = initial.metadata.get("hyperparameters", {}).get("validation_size")
    if recorded_seed is not None and recorded_seed != seed:
        raise TrainingError(f"--init was trained with --seed {recorded_seed}, whose validation split this run "
                            f"must keep: fine-tune with --seed {recorded_seed}, not {seed}")
    if recorded_size is not None and recorded_size != validation_size:
        raise TrainingError(f"--init held out {recorded_size} validation images: fine-tune with "
                            f"--validation-size {recorded_size}, not {validation_size}")


def start_from(network, initial):
    """Copy a trained network's weights into `network` in place: every hidden layer, and its digit outputs.

    The outputs `initial` lacks (what is not a digit) keep their fresh initial weights.
    Raises TrainingError when the hidden layers differ.
    """
    if initial.layer_sizes[:-1] != network.layer_sizes[:-1]:
        raise TrainingError(
            f"--init has layers {initial.layer_sizes}, which do not match {network.layer_sizes} of this run"
        )
    for mine, theirs in zip(network.weights + network.biases, initial.weights + initial.biases):
        columns = min(mine.shape[-1], theirs.shape[-1])
        mine[..., :columns] = theirs[..., :columns]


def handwriting_scores(network, calibration):
    """Return {"canvas_accuracy", "rejection"}: held-out canvas digits read right, non-digits given a non-digit output."""
    if calibration is None or not len(calibration.y):
        return {}
    outputs = network.forward(calibration.X)[-1].argmax(axis=1)
    digits = calibration.group == DIGIT
    scores = {"canvas_accuracy": float((outputs[digits] == calibration.y[digits]).mean())}
    negatives = np.isin(calibration.group, (CHARACTER, GENERATED))
    if negatives.any():
        scores["rejection"] = float((outputs[negatives] >= N_CLASSES).mean())
    return scores


def selection_score(record):
    """Return what chooses the best epoch: the mean of MNIST validation accuracy and the handwriting scores."""
    parts = [record["val_accuracy"], record.get("canvas_accuracy"), record.get("rejection")]
    parts = [part for part in parts if part is not None]
    return sum(parts) / len(parts)


def train(config, data, handwriting=None, command="", data_sha256=None, progress=sys.stderr, log=sys.stdout,
          checkpoint=None, initial=None):
    """Train a network as `config` says and return a TrainingResult.

    data        : model.training.mnist.Mnist (uint8 images); the test set is scored once, at the end
    handwriting : model.training.trainset.Handwriting, or None to train on MNIST alone
    command     : the command line, recorded in the metadata
    data_sha256 : {file name: SHA-256} of the data files, recorded in the metadata
    progress    : stream for the progress bar; log: stream for one line per epoch
    checkpoint  : path where the best network so far is saved (uncalibrated) after each better epoch
    initial     : a trained Network to start from (fine-tuning) instead of random weights

    The returned network has the weights of the epoch with the best
    selection score. Ctrl-C ends training early with the best epoch so
    far; before the first epoch ends there is none, and the
    KeyboardInterrupt propagates.
    """
    started = time.perf_counter()
    # Independent streams: changing, say, the augmentation leaves the
    # initial weights and the validation split as they were.
    init_rng, split_rng, shuffle_rng, augment_rng, style_rng, hand_rng = (
        np.random.default_rng(seed) for seed in np.random.SeedSequence(config.seed).spawn(6)
    )
    train_images, train_labels, validation_X, validation_y = split_data(config, data, split_rng)
    if initial is not None:
        check_same_split(initial, config.seed, len(validation_y))
    labels = output_labels(config.negatives, handwriting.others) if handwriting is not None else ()
    hand = HandwritingSet(handwriting, labels, config, hand_rng) if handwriting is not None else None
    n_train = len(train_labels) + (hand.size() if hand is not None else 0)
    trainer = Trainer(config, n_train, labels, (init_rng, shuffle_rng, augment_rng, style_rng), initial)
    print(
        f"training {'-'.join(map(str, trainer.network.layer_sizes))} on {n_train} samples "
        f"({len(train_labels)} MNIST), validating on {len(validation_y)} MNIST"
        f"{f' and {len(hand.calibration.y)} held-out drawings' if hand is not None else ''}; "
        f"{config.epochs} epochs of {trainer.steps_per_epoch} steps, "
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
            images, epoch_labels = train_images, train_labels
            if hand is not None:
                hand_images, hand_labels = hand.epoch(hand_rng)
                images = np.concatenate([train_images, hand_images])
                epoch_labels = np.concatenate([train_labels, hand_labels])
            bar = ProgressBar(progress, f"epoch {epoch}/{config.epochs}", len(epoch_labels))
            train_loss, train_accuracy = trainer.run_epoch(images, epoch_labels, len(train_labels), bar)
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
                **handwriting_scores(trainer.network, hand.calibration if hand is not None else None),
                "learning_rate": learning_rate,
                "seconds": time.perf_counter() - epoch_started,
            }
            history.append(record)
            improved = best is None or (selection_score(record), -val_loss) > (
                selection_score(best[1]), -best[1]["val_loss"])
            if improved:
                best = ([p.copy() for p in trainer.parameters], record)
                if checkpoint is not None:
                    trainer.network.save(checkpoint)
            remaining = (time.perf_counter() - started) / epoch * (config.epochs - epoch)
            extra = "".join(f"  {name.split('_')[0]} {record[name]:.4f}" for name in ("canvas_accuracy", "rejection")
                            if name in record)
            print(
                f"epoch {epoch:{width}d}/{config.epochs}  train loss {train_loss:.4f} acc {train_accuracy:.4f}  "
                f"val loss {val_loss:.4f} acc {val_accuracy:.4f}{extra}  lr {learning_rate:.2e}  "
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
    network = Network(best_parameters[:n_layers], best_parameters[n_layers:], output_labels=labels)
    calibration = {}
    if hand is not None:
        digits = hand.calibration.group == DIGIT
        network, calibration = calibrate(network, validation_X, validation_y,
                                         hand.calibration.X[digits], hand.calibration.y[digits],
                                         hand.calibration.X[~digits])
        print("calibrated on held-out writers: " + ", ".join(
            f"{name} {value:.4g}" for name, value in calibration.items() if value is not None), file=log, flush=True)
    test_X, test_y = to_features(data.test_images), data.test_labels.astype(np.intp)
    prediction = network.recognise(test_X)
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
        "test_accuracy": float((prediction.probabilities.argmax(axis=1) == test_y).mean()),
        "trained_at": utc_timestamp(),
        "training_seconds": time.perf_counter() - started,
        "numpy_version": np.__version__,
        "scipy_version": scipy.__version__,
    }
    if initial is not None:
        network.metadata["initialised_from"] = {"version": initial.version,
                                                "command": initial.metadata.get("command"),
                                                "test_accuracy": initial.metadata.get("test_accuracy")}
    if hand is not None:
        network.metadata["calibration"] = calibration
        network.metadata["test_not_digit"] = float(1 - prediction.is_digit.mean())
        network.metadata["handwriting"] = handwriting_summary(handwriting, hand)
    return TrainingResult(network, interrupted)


def handwriting_summary(handwriting, hand):
    """Return the metadata's "handwriting" entry: how many drawings of each kind fitted and calibrated."""
    return {
        "fitting_digits": len(handwriting.digits),
        "fitting_others": len(handwriting.others),
        "calibration_digits": len(handwriting.calibration_digits),
        "calibration_others": len(handwriting.calibration_others),
        "pictures_per_epoch": hand.size(),
        "generated_kinds": list(GENERATED_KINDS),
        "outputs": list(hand.labels),
    }


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
        "canvas_repeats": config.canvas_repeats,
        "variants": config.variants,
        "refresh": config.refresh,
        "generated": config.generated,
        "negatives": config.negatives,
    }
    if config.optimizer == "momentum":
        values["momentum"] = config.momentum
    return values
