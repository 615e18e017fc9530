"""Train the not-a-digit head on the frozen digit network, choose its threshold, measure it, save it.

    python -m model.training.train_rejection --data ../shared --seed 0 --out model/weights.npz

1. The UNIPEN digits and non-digits are split by writer
   (`model.training.handwriting.split_by_writer`); measuring writers are used in
   step 5 only.
2. Training writers' drawings are drawn with the page's pen at several
   widths and prepared by the real pipeline (`model.preprocess.digit_field`);
   the committed network, frozen, gives their activations. Positives: these
   digits and MNIST training digits. Negatives: these letters and symbols,
   and generated non-digits (`model.training.negatives`).
3. Writer-grouped cross-validation: the head is trained on all folds of
   writers but one and scores the held-out writers' digits; the threshold is
   the score that rejects `--digit-rejection` of those held-out digits.
4. The head is trained once more on every training writer and given that threshold.
5. Measured once on the measuring writers: digits at every width, letters
   and symbols (overall, per character), generated non-digits of every kind
   made from their strokes, and MNIST's test set. The three PNG styles the
   API reads give the same network input (ink_intensity finds the ink in
   each), so the digits are drawn once per width.

The digit network is not changed, so its digit answers stay exactly as they were.
"""

import argparse
import collections
import shlex
import sys
import time
import zlib
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from model.constants import DEFAULT_MODEL_PATH, DTYPE, N_PIXELS
from model.formatting import duration as format_duration
from model.formatting import percent
from model.network import ModelFileError, Network
from model.preprocess import digit_field, ink_intensity
from model.rejection import NotDigitHead
from model.training import negatives
from model.training.handwriting import load_handwriting, render_strokes, split_by_writer
from model.training.mnist import MnistError, load_mnist, to_features
from model.training.optimizers import Adam
from model.training.train import integer_list, parse_hidden

DIGITS_FILE = Path("handwriting") / "unipen-dev.jsonl.gz"
OTHERS_FILE = Path("handwriting") / "unipen-dev-other.jsonl.gz"
MNIST_DIR = Path("mnist")
"""Where the data lie inside --data (the project's ../shared)."""

WIDTHS = (8, 13, 18, 23, 28)
"""Pen widths drawn, thin pen to thick finger, as bench.realworld does."""

INPUT_LAYERS = (1, 2, 3)
"""Activations the head reads: both hidden layers and the (log) output of the 784-800-800-10 network."""

HIDDEN = (128,)
EPOCHS = 8
BATCH_SIZE = 256
LEARNING_RATE = 1e-3
"""Head shape and training, from writer-grouped cross-validation on training writers."""

N_FOLDS = 5
"""Writer folds of the cross-validation that chooses the threshold."""

DIGIT_REJECTION = 0.005
"""Share of held-out training writers' digits the threshold may reject."""

MNIST_POSITIVES = 30000
"""MNIST training digits among the positives (a random subset, enough to pin MNIST's style down)."""

TRAINING_KINDS = ("scribble", "zigzag", "random_strokes", "side_by_side")
"""Generated kinds trained on. In writer-grouped cross-validation (held-out non-digits rejected,
0.5 % of digits): no generated kinds 73.7 % of letters and symbols, 48-87 % of each generated kind;
these four 72.2 % and 63-90 %; all six 69.6 %. A digit with a mark beside it and single strokes of
digits look too much like digits: they raised the threshold and cost letters more than they gained."""

GENERATED_PER_KIND = 1000
"""Generated non-digits of each kind for training (fewer "partial": as many as the data has)."""

MEASURED_GENERATED_PER_KIND = 300
"""Generated non-digits of each kind made from measuring writers' strokes, for the report only."""

CLASS_SHARES = {"unipen_digit": 0.25, "mnist_digit": 0.25, "other": 0.4, "generated": 0.1}
"""Share of the loss each group of training samples carries, whatever its size."""

NEGATIVE_GROUPS = ("other", "generated")
"""Groups of training samples that are not digits."""

RENDER_PROGRESS_EVERY = 2000
FORWARD_BATCH = 4000
N_MOST_ACCEPTED = 15
"""Characters listed in the report, most often accepted first."""

PERCENT = 100


class DataMissingError(Exception):
    """A data file the training needs is not where --data says."""


# ---- Drawings to network inputs ------------------------------------------


def draw_fields(drawings, widths, label, log=sys.stdout):
    """Return the network inputs of drawings drawn with the page's pen, shape (n, 784), float32.

    drawings : list of strokes lists in canvas units
    widths   : sequence of pen widths, one per drawing
    """
    fields = np.empty((len(drawings), N_PIXELS), dtype=DTYPE)
    started = time.monotonic()
    for i, (strokes, width) in enumerate(zip(drawings, widths)):
        fields[i] = digit_field(ink_intensity(render_strokes(strokes, width))).ravel()
        if (i + 1) % RENDER_PROGRESS_EVERY == 0:
            elapsed = time.monotonic() - started
            print(f"  {label}: {i + 1}/{len(drawings)} drawn ({elapsed:.0f} s)", file=log, flush=True)
    return fields


def every_width(samples):
    """Return (drawings, widths, samples) with each sample once at each of WIDTHS."""
    pairs = [(sample, width) for sample in samples for width in WIDTHS]
    return [sample["strokes"] for sample, _ in pairs], [width for _, width in pairs], [sample for sample, _ in pairs]


def in_batches(network, X):
    """Yield the activations of `network` for X (n, 784), FORWARD_BATCH rows at a time."""
    for start in range(0, len(X), FORWARD_BATCH):
        yield network.forward(X[start : start + FORWARD_BATCH])


def head_inputs(network, head_template, X):
    """Return the features `head_template` reads for inputs X (n, 784), shape (n, n_features), float32."""
    parts = [head_template.features(activations) for activations in in_batches(network, X)]
    return np.concatenate(parts) if parts else np.empty((0, head_template.layer_sizes[0]), dtype=DTYPE)


# ---- Training --------------------------------------------------------------


def fit_head(features, targets, shares, rng, input_layers, n_features, hidden=HIDDEN, epochs=EPOCHS, log=sys.stdout):
    """Train a new head by Adam with a cosine learning rate; return it (threshold still 0.5).

    features : ndarray of shape (n_samples, n_features), float32
    targets  : ndarray of shape (n_samples,), 1 for "not a digit"
    shares   : ndarray of shape (n_samples,), each sample's weight in the loss
    """
    head = NotDigitHead.initialise(input_layers, n_features, hidden, rng)
    parameters = head.weights + head.biases
    optimizer = Adam(parameters)
    n_samples = len(targets)
    steps_per_epoch = max(1, n_samples // BATCH_SIZE)
    total_steps = epochs * steps_per_epoch
    step = 0
    for epoch in range(epochs):
        order = rng.permutation(n_samples)
        losses = []
        for batch in range(steps_per_epoch):
            chosen = order[batch * BATCH_SIZE : (batch + 1) * BATCH_SIZE]
            loss, weight_gradients, bias_gradients = head.loss_and_gradients(
                features[chosen], targets[chosen], shares[chosen]
            )
            rate = LEARNING_RATE * 0.5 * (1 + np.cos(np.pi * step / total_steps))
            optimizer.step(parameters, weight_gradients + bias_gradients, rate)
            losses.append(loss)
            step += 1
        print(f"    epoch {epoch + 1}/{epochs}: loss {np.mean(losses):.4f}", file=log, flush=True)
    if not head.is_finite():
        raise ArithmeticError("the head's weights are not finite after training")
    return head


def loss_shares(groups):
    """Return each sample's weight so that every group carries its CLASS_SHARES of the loss, shape (n,)."""
    shares = np.zeros(len(groups), dtype=DTYPE)
    for group, share in CLASS_SHARES.items():
        members = groups == group
        if members.any():
            shares[members] = share / members.sum()
    return shares


def writer_folds(writers, n_folds=N_FOLDS):
    """Return the fold of each writer id, decided by a hash so that folds hold whole writers, shape (n,)."""
    return np.array([(zlib.crc32(writer.encode("utf-8")) // n_folds) % n_folds for writer in writers])


def threshold_for(digit_scores, rejection=DIGIT_REJECTION):
    """Return the lowest threshold that rejects at most `rejection` of the digits (score >= threshold)."""
    ordered = np.sort(digit_scores)
    allowed = int(np.floor(rejection * len(ordered)))
    return float(np.nextafter(ordered[len(ordered) - allowed - 1], DTYPE(1))) if allowed < len(ordered) else 0.0


# ---- Reporting ---------------------------------------------------------------


def share(flags):
    return float(np.mean(flags)) if len(flags) else float("nan")


def by_key(keys, flags):
    """Return {key: (count, share of flags)} for every distinct key."""
    groups = collections.defaultdict(list)
    for key, flag in zip(keys, flags):
        groups[key].append(flag)
    return {key: (len(values), share(values)) for key, values in sorted(groups.items())}


def print_shares(title, table, log=sys.stdout):
    print(title, file=log)
    for key, (count, fraction) in table.items():
        print(f"  {key!s:>12}  {count:6d}  {fraction * PERCENT:6.2f}%", file=log)


def measure_digits(head, network, samples, log=sys.stdout):
    """Return the figures of the measuring writers' digits, each drawn at every width."""
    drawings, widths, drawn = every_width(samples)
    fields = draw_fields(drawings, widths, "measuring digits", log)
    labels = np.array([sample["label"] for sample in drawn])
    activations = network.forward(fields)
    rejected = ~head.is_digit(activations)
    per_digit, per_width = by_key(labels, rejected), by_key(widths, rejected)
    figures = {
        "digits_counted": len(labels),
        "digits_rejected": share(rejected),
        "digits_accuracy": share(activations[-1].argmax(axis=1) == labels),
        "digits_rejected_per_digit": {str(key): fraction for key, (_, fraction) in per_digit.items()},
        "digits_rejected_per_width": {str(key): fraction for key, (_, fraction) in per_width.items()},
    }
    print(f"\nMeasuring writers' digits: {len(labels)} drawings ({len(samples)} × {len(WIDTHS)} widths)", file=log)
    print(
        f"  rejected as not a digit: {percent(figures['digits_rejected'])}, "
        f"network accuracy {percent(figures['digits_accuracy'])}",
        file=log,
    )
    print_shares("  rejected, per digit:", per_digit, log)
    print_shares("  rejected, per pen width:", per_width, log)
    return figures


def measure_others(head, network, samples, widths, log=sys.stdout):
    """Return the figures of the measuring writers' letters and symbols, each drawn at its width."""
    fields = draw_fields([sample["strokes"] for sample in samples], widths, "measuring non-digits", log)
    characters = np.array([sample["label"] for sample in samples])
    rejected = ~head.is_digit(network.forward(fields))
    most_accepted = sorted(by_key(characters, rejected).items(), key=lambda item: item[1][1])[:N_MOST_ACCEPTED]
    figures = {
        "others_counted": len(characters),
        "others_rejected": share(rejected),
        "others_most_accepted": {key: {"n": count, "rejected": fraction} for key, (count, fraction) in most_accepted},
    }
    print(f"\nMeasuring writers' letters and symbols: {len(characters)} drawings, one pen width each", file=log)
    print(f"  rejected as not a digit: {percent(figures['others_rejected'])}", file=log)
    print_shares("  rejected, the most often accepted characters:", dict(most_accepted), log)
    print_shares("  rejected, per pen width:", by_key(widths, rejected), log)
    return figures


def measure_generated(head, network, generated_fields, log=sys.stdout):
    """Return {kind: share rejected} of generated non-digits; generated_fields maps kind to (n, 784) inputs."""
    print("\nGenerated from measuring writers' strokes:", file=log)
    rejected = {}
    for kind, fields in generated_fields.items():
        rejected[kind] = share(~head.is_digit(network.forward(fields)))
        print(f"  {kind:>14}  {len(fields):6d}  {percent(rejected[kind])} rejected", file=log)
    return {"generated_rejected": rejected}


def measure_mnist(head, network, X, y, log=sys.stdout):
    """Return the figures of MNIST's test set: X (n, 784), y (n,)."""
    rejected, predicted = [], []
    for activations in in_batches(network, X):
        rejected.append(~head.is_digit(activations))
        predicted.append(activations[-1].argmax(axis=1))
    figures = {
        "mnist_test_rejected": share(np.concatenate(rejected)),
        "mnist_test_accuracy": share(np.concatenate(predicted) == y),
    }
    print(
        f"\nMNIST test: {percent(figures['mnist_test_rejected'])} rejected as not a digit, "
        f"network accuracy {percent(figures['mnist_test_accuracy'])} (unchanged: the network is frozen)",
        file=log,
    )
    return figures


# ---- The run -----------------------------------------------------------------


def read_data(data_dir):
    """Return (digits, others, mnist) read from the --data folder; raise DataMissingError naming what is missing."""
    missing = [str(data_dir / name) for name in (DIGITS_FILE, OTHERS_FILE) if not (data_dir / name).is_file()]
    if missing:
        raise DataMissingError(
            f"data not found: {', '.join(missing)} (give --data the folder holding handwriting/ and mnist/)"
        )
    try:
        mnist = load_mnist(data_dir / MNIST_DIR, mirrors=())
    except MnistError as error:
        raise DataMissingError(f"MNIST not readable in {data_dir / MNIST_DIR}: {error}") from None
    return load_handwriting(data_dir / DIGITS_FILE), load_handwriting(data_dir / OTHERS_FILE), mnist


def generate_drawings(digits, others, per_kind, kinds, rng):
    """Return {kind: list of drawings} of generated non-digits made from these samples' strokes."""
    return {kind: negatives.generate(kind, per_kind, digits, others, rng) for kind in kinds}


def training_set(args, network, template, digits, others, mnist, rng, log=sys.stdout):
    """Return (features, groups, folds) of every training sample.

    features : ndarray of shape (n, n_features), what the head reads
    groups   : ndarray of shape (n,), "unipen_digit", "mnist_digit", "other" or "generated"
    folds    : ndarray of shape (n,), the writer fold, -1 for samples without a
               writer (MNIST, generated), which join every fold's training set
    """
    print("drawing the training drawings with the page's pen:", file=log, flush=True)
    drawings, widths, samples = every_width(digits)
    digit_features = head_inputs(network, template, draw_fields(drawings, widths, "digits", log))
    other_widths = rng.choice(WIDTHS, len(others))
    other_fields = draw_fields([sample["strokes"] for sample in others], other_widths, "non-digits", log)
    other_features = head_inputs(network, template, other_fields)
    per_kind = min(args.generated, args.limit or args.generated)
    generated = generate_drawings(digits, others, per_kind, args.kinds, rng)
    generated_drawings = [drawing for kind in args.kinds for drawing in generated[kind]]
    generated_widths = rng.choice(WIDTHS, len(generated_drawings))
    generated_fields = draw_fields(generated_drawings, generated_widths, "generated", log)
    generated_features = head_inputs(network, template, generated_fields)
    mnist_chosen = rng.permutation(len(mnist.train_labels))[: args.limit or args.mnist]
    mnist_features = head_inputs(network, template, to_features(mnist.train_images[mnist_chosen]))

    parts = (
        ("unipen_digit", digit_features, [sample["writer"] for sample in samples]),
        ("mnist_digit", mnist_features, None),
        ("other", other_features, [sample["writer"] for sample in others]),
        ("generated", generated_features, None),
    )
    groups = np.concatenate([np.full(len(part), group) for group, part, _ in parts])
    folds = np.concatenate(
        [writer_folds(writers, args.folds) if writers else np.full(len(part), -1) for _, part, writers in parts]
    )
    return np.concatenate([part for _, part, _ in parts]), groups, folds


def cross_validate(args, features, groups, folds, rng, log=sys.stdout):
    """Return (threshold, figures): the threshold rejecting --digit-rejection of held-out writers' digits."""
    targets = np.isin(groups, NEGATIVE_GROUPS).astype(DTYPE)
    held_out_scores = np.zeros(len(groups), dtype=DTYPE)
    for fold in range(args.folds):
        print(f"cross-validation fold {fold + 1}/{args.folds}:", file=log, flush=True)
        trained, held_out = folds != fold, folds == fold
        head = fit_head(
            features[trained], targets[trained], loss_shares(groups[trained]), rng,
            args.input_layers, features.shape[1], args.hidden, args.epochs, log,
        )
        held_out_scores[held_out] = head.forward_features(features[held_out])[-1][:, 0]
    digit_scores = held_out_scores[groups == "unipen_digit"]
    threshold = threshold_for(digit_scores, args.digit_rejection)
    figures = {
        "digits_rejected": share(digit_scores >= threshold),
        "others_rejected": share(held_out_scores[groups == "other"] >= threshold),
    }
    print(
        f"threshold {threshold:.6f}: held-out training writers' digits {percent(figures['digits_rejected'])} "
        f"rejected, their non-digits {percent(figures['others_rejected'])}",
        file=log, flush=True,
    )
    return threshold, figures


def run(args, command, log=sys.stdout):
    """Train, choose the threshold, measure; return the head with its metadata filled in."""
    started = time.monotonic()
    rng = np.random.default_rng(args.seed)
    network = Network.load(args.model)
    digits, others, mnist = read_data(args.data)
    digits_train, digits_measuring = split_by_writer(digits)
    others_train, others_measuring = split_by_writer(others)
    if args.limit:
        digits_train, others_train = digits_train[: args.limit], others_train[: args.limit]
        digits_measuring, others_measuring = digits_measuring[: args.limit], others_measuring[: args.limit]
    print(
        f"training writers: {len(digits_train)} digits, {len(others_train)} non-digits; "
        f"measuring writers: {len(digits_measuring)} digits, {len(others_measuring)} non-digits",
        file=log, flush=True,
    )
    n_features = sum(network.layer_sizes[layer] for layer in args.input_layers)
    template = NotDigitHead.initialise(args.input_layers, n_features, (1,), rng)
    features, groups, folds = training_set(args, network, template, digits_train, others_train, mnist, rng, log)
    threshold, cross_validated = cross_validate(args, features, groups, folds, rng, log)

    print("final head on every training writer:", file=log, flush=True)
    targets = np.isin(groups, NEGATIVE_GROUPS).astype(DTYPE)
    head = fit_head(
        features, targets, loss_shares(groups), rng, args.input_layers, n_features, args.hidden, args.epochs, log
    )
    head.threshold = threshold

    print("drawing the measuring writers' drawings:", file=log, flush=True)
    per_kind = min(MEASURED_GENERATED_PER_KIND, args.limit or MEASURED_GENERATED_PER_KIND)
    generated = generate_drawings(digits_measuring, others_measuring, per_kind, negatives.KINDS, rng)
    generated_fields = {
        kind: draw_fields(drawings, rng.choice(WIDTHS, len(drawings)), kind, log)
        for kind, drawings in generated.items()
        if drawings
    }
    other_widths = rng.choice(WIDTHS, len(others_measuring))
    figures = {
        **measure_digits(head, network, digits_measuring, log),
        **measure_others(head, network, others_measuring, other_widths, log),
        **measure_generated(head, network, generated_fields, log),
        **measure_mnist(head, network, to_features(mnist.test_images), mnist.test_labels.astype(np.int64), log),
    }
    head.metadata = {
        "format": "digit-recogniser not-a-digit head",
        "command": command,
        "network": network.version,
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "training_seconds": round(time.monotonic() - started),
        "seed": args.seed,
        "generated_kinds": list(args.kinds),
        "target_digit_rejection": args.digit_rejection,
        "cross_validated": cross_validated,
        "measuring_writers": figures,
    }
    return head


parse_layers = integer_list(0, "1,2,3")
"""Activation indices from "1,2,3" (argparse type); 0, the pixels, is allowed."""


def parse_kinds(text):
    """Return kinds of generated non-digits from "scribble,zigzag" (argparse type)."""
    kinds = tuple(kind for kind in text.split(",") if kind)
    unknown = [kind for kind in kinds if kind not in negatives.KINDS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown kinds {unknown}; choose from {','.join(negatives.KINDS)}")
    return kinds


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m model.training.train_rejection", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data", type=Path, required=True, help="folder holding handwriting/ and mnist/ (the project's ../shared)"
    )
    parser.add_argument("--out", type=Path, required=True, help="model file to write: the frozen network of --model with the trained head")
    parser.add_argument("--seed", type=int, default=0, help="seed of every random choice")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_PATH, help="the frozen digit network")
    parser.add_argument(
        "--input-layers", type=parse_layers, default=INPUT_LAYERS, help="activations the head reads (0 = pixels)"
    )
    parser.add_argument("--hidden", type=parse_hidden, default=HIDDEN, help="hidden layer sizes of the head")
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--folds", type=int, default=N_FOLDS, help="writer folds of the cross-validation")
    parser.add_argument(
        "--digit-rejection",
        type=float,
        default=DIGIT_REJECTION,
        help="share of held-out digits the threshold may reject",
    )
    parser.add_argument(
        "--kinds", type=parse_kinds, default=TRAINING_KINDS, help="kinds of generated non-digits trained on"
    )
    parser.add_argument("--generated", type=int, default=GENERATED_PER_KIND, help="generated non-digits of each kind")
    parser.add_argument("--mnist", type=int, default=MNIST_POSITIVES, help="MNIST training digits among the positives")
    parser.add_argument("--limit", type=int, help="use only this many samples of each kind (a quick check)")
    return parser


def main(argv=None):
    """Run the command line; return the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.folds < 2 or args.epochs < 1 or not 0 <= args.digit_rejection < 1:
        parser.error("need --folds >= 2, --epochs >= 1 and --digit-rejection in [0, 1)")
    if not args.out.parent.is_dir():
        parser.error(f"--out {args.out}: folder {args.out.parent} does not exist")
    command = shlex.join(["python", "-m", "model.training.train_rejection", *argv])
    try:
        head = run(args, command)
    except (DataMissingError, ModelFileError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    Network.load(args.model).with_not_digit(head).save(args.out)
    duration = format_duration(head.metadata["training_seconds"])
    print(f"saved {args.out}: threshold {head.threshold:.6f}, {duration} in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
