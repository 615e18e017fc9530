"""The handwriting part of a training run: which drawings, which outputs, and their varied pictures.

Training writers' canvas digits and their letters and symbols come from the
UNIPEN files in ../shared/handwriting, extra files in the same format (user
corrections: `label` an int digit, or a string or null for what is not a
digit) join them, and generated non-digits (`model.training.negatives`) are
made from the fitting writers' strokes. Measuring writers are dropped on
reading; a fifth of the others, the calibration writers
(`model.training.canvas.is_calibration_writer`), are kept out of fitting for
choosing the epoch, the temperature and the thresholds.

Outputs: the ten digits, then (negatives "letters") one per character of the
letters and symbols and one, "not a digit", for generated and unlabelled
non-digits, or (negatives "one") that last output alone.
"""

from pathlib import Path
from typing import NamedTuple

import numpy as np

from model.constants import DTYPE, IMAGE_SIDE, MAX_INTENSITY, N_CLASSES
from model.training import canvas, negatives
from model.training.handwriting import load_handwriting

DIGITS_FILE = "unipen-dev.jsonl.gz"
OTHERS_FILE = "unipen-dev-other.jsonl.gz"
"""The UNIPEN files inside the --handwriting folder."""

NOT_A_DIGIT = "not a digit"
"""The output of generated non-digits, and of extra drawings labelled only as not a digit."""

GENERATED_KINDS = ("scribble", "zigzag", "random_strokes", "side_by_side", "touching", "half_digit", "dash")
"""Generated non-digits trained on, in equal numbers: what people scribble, and what wrong cuts leave."""

CALIBRATION_GENERATED = 1000
"""Generated non-digits made from calibration writers' digits, for choosing the epoch and thresholds."""


class Handwriting(NamedTuple):
    """Training writers' drawings, split into fitting and calibration writers."""

    digits: list
    others: list
    calibration_digits: list
    calibration_others: list


def read_handwriting(folder, extra_files=()):
    """Return the Handwriting of the UNIPEN files in `folder` and of `extra_files`, measuring writers left out.

    An extra file's digits have an int `label`; anything else is a non-digit.
    Its samples without a `writer` are fitted on: no UNIPEN writer made them.
    """
    digits = load_handwriting(Path(folder) / DIGITS_FILE)
    others = load_handwriting(Path(folder) / OTHERS_FILE)
    anonymous_digits, anonymous_others = [], []
    for path in extra_files:
        for sample in load_handwriting(path):
            label = sample.get("label")
            is_digit = isinstance(label, int) and not isinstance(label, bool) and 0 <= label < N_CLASSES
            if sample.get("writer"):
                (digits if is_digit else others).append(sample)
            else:
                (anonymous_digits if is_digit else anonymous_others).append(sample)
    fitting_digits, calibration_digits = canvas.split_training_writers(digits)
    fitting_others, calibration_others = canvas.split_training_writers(others)
    return Handwriting(fitting_digits + anonymous_digits, fitting_others + anonymous_others,
                       calibration_digits, calibration_others)


def output_labels(negatives_mode, others):
    """Return the names of the outputs after the digits, for `negatives_mode` (see config.NEGATIVES)."""
    if negatives_mode == "none":
        return ()
    if negatives_mode == "one":
        return (NOT_A_DIGIT,)
    characters = sorted({sample["label"] for sample in others if isinstance(sample.get("label"), str)})
    return (*[character for character in characters if character != NOT_A_DIGIT], NOT_A_DIGIT)


def class_indices(samples, labels):
    """Return each sample's output index: its digit, its character's output, or the "not a digit" output."""
    index = {label: N_CLASSES + i for i, label in enumerate(labels)}
    fallback = index.get(NOT_A_DIGIT)
    return np.array(
        [sample["label"] if isinstance(sample["label"], int) else index.get(sample["label"], fallback)
         for sample in samples],
        dtype=np.intp,
    )


def generate(digits, others, count, rng):
    """Return `count` generated non-digits (stroke lists), GENERATED_KINDS in turn, from these writers' samples."""
    per_kind = -(-count // len(GENERATED_KINDS))
    drawings = []
    for kind in GENERATED_KINDS:
        drawings.extend(negatives.generate(kind, per_kind, digits, others, rng))
    order = rng.permutation(len(drawings))[:count]
    return [drawings[i] for i in order]


class Pool:
    """Varied pictures of a set of drawings, a few kept per drawing and some drawn afresh before each epoch.

    drawings : list of stroke lists; labels: ndarray (n,), their output indices
    variants : pictures kept per drawing, stored as bytes (n, variants, 28, 28)
    """

    def __init__(self, drawings, labels, variants, rng):
        self.drawings = list(drawings)
        self.labels = np.asarray(labels, dtype=np.intp)
        self.pictures = np.zeros((len(self.drawings), variants, IMAGE_SIDE, IMAGE_SIDE), dtype=np.uint8)
        for slot in range(variants):
            self._draw(np.arange(len(self.drawings)), np.full(len(self.drawings), slot), rng)

    def __len__(self):
        return len(self.drawings)

    def _draw(self, rows, slots, rng):
        fields = canvas.fields([self.drawings[i] for i in rows], rng)
        self.pictures[rows, slots] = np.round(fields * MAX_INTENSITY).astype(np.uint8)

    def refresh(self, share, rng):
        """Draw afresh, with new variation, a random `share` of the drawings (one kept picture of each)."""
        count = round(share * len(self.drawings))
        if count:
            rows = rng.choice(len(self.drawings), count, replace=False)
            self._draw(rows, rng.integers(self.pictures.shape[1], size=count), rng)

    def sample(self, repeats, rng):
        """Return (images (n * repeats, 28, 28) float32 in [0, 1], labels), one kept picture each, at random."""
        rows = np.tile(np.arange(len(self.drawings)), repeats)
        slots = rng.integers(self.pictures.shape[1], size=len(rows))
        return self.pictures[rows, slots].astype(DTYPE) / DTYPE(MAX_INTENSITY), self.labels[rows]


class HandwritingSet:
    """Every handwriting pool of a run and the calibration writers' pictures, built once.

    handwriting : Handwriting; labels: output_labels of the run; config: TrainingConfig
    """

    def __init__(self, handwriting, labels, config, rng):
        self.labels = tuple(labels)
        self.config = config
        digits, others = handwriting.digits, handwriting.others
        self.pools = [(Pool([d["strokes"] for d in digits], class_indices(digits, labels), config.variants, rng),
                       config.canvas_repeats)]
        if labels:
            generated = generate(digits, others, config.generated, rng)
            negative_drawings = [o["strokes"] for o in others] + generated
            negative_labels = np.concatenate([class_indices(others, labels),
                                              np.full(len(generated), N_CLASSES + len(labels) - 1)])
            self.pools.append((Pool(negative_drawings, negative_labels, config.variants, rng), 1))
        self.calibration = calibration_set(handwriting, labels, rng)

    def epoch(self, rng):
        """Return this epoch's (images (n, 28, 28), labels): kept pictures, some drawn afresh first."""
        images, labels = [], []
        for pool, repeats in self.pools:
            pool.refresh(self.config.refresh, rng)
            pool_images, pool_labels = pool.sample(repeats, rng)
            images.append(pool_images)
            labels.append(pool_labels)
        return np.concatenate(images), np.concatenate(labels)

    def size(self):
        """Return how many handwriting pictures an epoch holds."""
        return sum(len(pool) * repeats for pool, repeats in self.pools)


class CalibrationSet(NamedTuple):
    """Calibration writers' drawings as the page draws them, and generated non-digits from them."""

    X: np.ndarray
    """(n, 784) float32, the network's inputs."""

    y: np.ndarray
    """(n,) output indices; non-digits of unknown characters get the "not a digit" output."""

    group: np.ndarray
    """(n,) 0 for digits, 1 for letters and symbols, 2 for generated non-digits."""


DIGIT, CHARACTER, GENERATED = 0, 1, 2
"""Groups of a CalibrationSet."""


def calibration_set(handwriting, labels, rng):
    """Return the CalibrationSet of the calibration writers, drawn unvaried with pen widths from the benchmarks' range."""
    digits, others = handwriting.calibration_digits, handwriting.calibration_others
    parts = [([d["strokes"] for d in digits], class_indices(digits, labels), DIGIT)]
    if labels:
        not_a_digit = N_CLASSES + len(labels) - 1
        parts.append(([o["strokes"] for o in others], class_indices(others, labels), CHARACTER))
        generated = generate(digits, others, CALIBRATION_GENERATED, rng) if digits else []
        parts.append((generated, np.full(len(generated), not_a_digit), GENERATED))
    X = [canvas.fields(drawings, rng, canvas.PLAIN).reshape(len(drawings), -1)
         for drawings, _, _ in parts]
    return CalibrationSet(
        np.concatenate(X) if X else np.zeros((0, IMAGE_SIDE * IMAGE_SIDE), DTYPE),
        np.concatenate([y for _, y, _ in parts]).astype(np.intp),
        np.concatenate([np.full(len(y), group) for _, y, group in parts]),
    )
