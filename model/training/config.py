"""Every choice that shapes a training run: the presets and the checked configuration."""

import math
from dataclasses import dataclass, field

from model.constants import N_CLASSES, N_PIXELS
from model.training.augment import KINDS, AugmentParams
from model.training.optimizers import DEFAULT_MOMENTUM, LR_SCHEDULES, OPTIMIZERS

NEGATIVES = ("letters", "one", "none")
"""How drawings that are not digits are taught: one output per letter or symbol (and one for
generated non-digits), one "not a digit" output for them all, or not at all (MNIST alone)."""

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
        "canvas_repeats": 1,
        "variants": 1,
        "refresh": 0.0,
        "generated": 2000,
        "negatives": "letters",
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
        "canvas_repeats": 2,
        "variants": 2,
        "refresh": 0.15,
        "generated": 6000,
        "negatives": "letters",
    },
}
"""Hyper-parameters of each preset, measured on this project's two-core machine.

quick: about 25 s and 98 % test accuracy, for development; it beats
scikit-learn's MLPClassifier on time and accuracy (bench.train_speed).
full: about 7.5 s an epoch on MNIST alone, so some 18 minutes. The committed
model is this preset with the canvas handwriting and 120 epochs (about 19 s
an epoch, 40 minutes; docs/training.md).
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
    canvas_repeats  : copies of each training writer's canvas digit in an epoch (when
                      handwriting is given), each a different varied drawing
    variants        : varied drawings kept of each handwriting sample (model.training.canvas)
    refresh         : share of those drawings drawn afresh before each epoch
    generated       : generated non-digits (scribbles, wrong cuts) in the pool
    negatives       : one of NEGATIVES
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
    canvas_repeats: int = PRESETS[DEFAULT_PRESET]["canvas_repeats"]
    variants: int = PRESETS[DEFAULT_PRESET]["variants"]
    refresh: float = PRESETS[DEFAULT_PRESET]["refresh"]
    generated: int = PRESETS[DEFAULT_PRESET]["generated"]
    negatives: str = PRESETS[DEFAULT_PRESET]["negatives"]
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
            (self.canvas_repeats >= 0, "canvas_repeats", "at least 0"),
            (self.variants >= 1, "variants", "at least 1"),
            (0 <= self.refresh <= 1, "refresh", "in [0, 1]"),
            (self.generated >= 0, "generated", "at least 0"),
            (self.negatives in NEGATIVES, "negatives", f"one of {', '.join(NEGATIVES)}"),
            (self.preset is None or self.preset in PRESETS, "preset", f"one of {', '.join(PRESETS)}"),
        ]
        for ok, name, wanted in checks:
            if not ok:
                raise TrainingError(f"{name} must be {wanted}, got {getattr(self, name)!r}")

    def layer_sizes(self, n_outputs=N_CLASSES):
        """Return the network's layer sizes, input first, for `n_outputs` outputs."""
        return (N_PIXELS, *self.hidden, n_outputs)
