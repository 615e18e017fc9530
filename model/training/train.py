"""Train the digit recogniser on MNIST and canvas handwriting, and save it as a model file.

    python -m model.training.train --data ../shared/mnist --preset quick --out model/weights.npz
    python -m model.training.train --data ../shared/mnist --handwriting ../shared/handwriting \\
        --preset full --seed 1 --out model/weights.npz

A preset fills in every hyper-parameter; any flag given explicitly wins over
it. With --handwriting the network also learns the training writers' canvas
digits and what is not a digit, and is calibrated on held-out writers
(model.training.loop). Ctrl-C (or SIGTERM) stops early: the best model so far
is calibrated, scored and saved.
"""

import argparse
import shlex
import signal
import sys
from pathlib import Path

from model.constants import N_CLASSES, N_PIXELS
from model.formatting import duration
from model.network import ModelFileError, Network
from model.training.augment import KINDS, parse_kinds
from model.training.config import (
    DEFAULT_PRESET,
    EXIT_INTERRUPTED,
    NEGATIVES,
    PRESET_FLAGS,
    PRESETS,
    TrainingConfig,
    TrainingError,
)
from model.training.loop import train
from model.training.mnist import SHA256, MnistError, load_mnist
from model.training.optimizers import LR_SCHEDULES, OPTIMIZERS
from model.training.trainset import read_handwriting

__all__ = ["PRESETS", "TrainingConfig", "TrainingError", "build_parser", "config_from_args", "main", "train"]


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
    parser.add_argument(
        "--handwriting", type=Path, help="folder with the UNIPEN files (../shared/handwriting): train on canvas "
        "digits and on what is not a digit as well, and calibrate on held-out writers",
    )
    parser.add_argument(
        "--handwriting-extra", type=Path, action="append", default=[], metavar="FILE",
        help="another handwriting file in the same format (label an int digit, or a string or null for "
        "not a digit), e.g. exported corrections; repeatable",
    )
    parser.add_argument(
        "--init", type=Path, help="start from this trained model file's weights (its hidden layers must match)"
    )
    parser.add_argument("--checkpoint", type=Path, help="save the best network so far here after each better epoch")
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
    parser.add_argument("--canvas-repeats", type=int, help="copies of each canvas digit per epoch")
    parser.add_argument("--variants", type=int, help="varied pictures kept of each handwriting drawing")
    parser.add_argument("--refresh", type=float, help="share of handwriting pictures drawn afresh each epoch")
    parser.add_argument("--generated", type=int, help="generated non-digits (scribbles, wrong cuts)")
    parser.add_argument("--negatives", choices=NEGATIVES, help="outputs for what is not a digit")
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


def stop_like_ctrl_c(signum, frame):
    """Turn SIGTERM into Ctrl-C, so that a run in the background stops keeping its best epoch."""
    raise KeyboardInterrupt


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

    if args.handwriting_extra and args.handwriting is None:
        parser.error("--handwriting-extra needs --handwriting")
    try:
        data = load_mnist(args.data)
        handwriting = None if args.handwriting is None else read_handwriting(args.handwriting, args.handwriting_extra)
        initial = None if args.init is None else Network.load(args.init)
    except MnistError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except (OSError, ModelFileError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    signal.signal(signal.SIGTERM, stop_like_ctrl_c)
    try:
        result = train(config, data, handwriting, command=command, data_sha256=SHA256, checkpoint=args.checkpoint,
                       initial=initial)
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
