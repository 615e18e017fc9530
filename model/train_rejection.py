"""Train the not-a-digit head on the frozen digit network, choose its threshold, measure it, save it.

    python -m model.train_rejection --data ../shared --seed 0 --out model/not_digit.npz

1. The UNIPEN digits and non-digits are split by writer
   (`model.handwriting.split_by_writer`); measuring writers are used in
   step 5 only.
2. Training writers' drawings are drawn with the page's pen at several
   widths and prepared by the real pipeline (`model.preprocess.digit_field`);
   the committed network, frozen, gives their activations. Positives: these
   digits and MNIST training digits. Negatives: these letters and symbols,
   and generated non-digits (`model.negatives`).
3. Writer-grouped cross-validation: the head is trained on all folds of
   writers but one and scores the held-out writers' digits; the threshold is
   the score that rejects `--digit-rejection` of those held-out digits.
4. The head is trained once more on every training writer and given that threshold.
5. Measured once on the measuring writers: digits at every width, letters
   and symbols (overall, per character), generated non-digits made from
   their strokes, and MNIST's test set. The three PNG styles the API reads
   give the same network input (ink_intensity finds the ink in each), so
   the digits are drawn once per width.

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

from model import DEFAULT_MODEL_PATH, N_CLASSES, N_PIXELS
from model import negatives
from model.handwriting import load_handwriting, render_strokes, split_by_writer
from model.mnist import MnistError, load_mnist, to_features
from model.network import ModelFileError, Network
from model.preprocess import digit_field, ink_intensity
from model.rejection import DTYPE, NotDigitHead
from model.train import Adam, format_duration

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

GENERATED_PER_KIND = 1000
"""Generated non-digits of each kind for training (fewer "partial": as many as the data has)."""

MEASURED_GENERATED_PER_KIND = 300
"""Generated non-digits of each kind made from measuring writers' strokes, for the report only."""

CLASS_SHARES = {"unipen_digit": 0.25, "mnist_digit": 0.25, "other": 0.4, "generated": 0.1}
"""Share of the loss each group of training samples carries, whatever its size."""

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
            print(f"  {label}: {i + 1}/{len(drawings)} drawn ({time.monotonic() - started:.0f} s)", file=log, flush=True)
    return fields


def every_width(samples):
    """Return (drawings, widths, samples) with each sample once at each of WIDTHS."""
    pairs = [(sample, width) for sample in samples for width in WIDTHS]
    return [sample["strokes"] for sample, _ in pairs], [width for _, width in pairs], [sample for sample, _ in pairs]


def head_inputs(network, head_template, X):
    """Return the head's features for inputs X (n, 784), computed batch by batch, shape (n, n_features)."""
    parts = [head_template.features(network.forward(X[start : start + FORWARD_BATCH])) for start in range(0, len(X), FORWARD_BATCH)]
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


def measure(head, network, measuring_digits, measuring_others, generated, mnist_test, log=sys.stdout):
    """Measure the head on data it never saw; print the figures and return them as a dict.

    generated  : dict of kind -> (n, 784) inputs made from measuring writers' strokes
    mnist_test : (X of shape (10000, 784), y of shape (10000,))
    """
    figures = {}

    drawings, widths, samples = every_width(measuring_digits)
    inks = [ink_intensity(render_strokes(strokes, width)) for strokes, width in zip(drawings, widths)]
    digit_fields = np.stack([digit_field(ink).ravel() for ink in inks])
    rejected = ~head.is_digit(network.forward(digit_fields))
    labels = np.array([sample["label"] for sample in samples])
    correct = network.predict(digit_fields) == labels
    figures["digits_rejected"] = share(rejected)
    figures["digits_accuracy"] = share(correct)
    figures["digits_rejected_per_digit"] = {str(k): v[1] for k, v in by_key(labels, rejected).items()}
    figures["digits_rejected_per_width"] = {str(k): v[1] for k, v in by_key(widths, rejected).items()}
    figures["digits_counted"] = len(labels)
    print(f"\nMeasuring writers' digits: {len(labels)} drawings ({len(measuring_digits)} samples × {len(WIDTHS)} widths)", file=log)
    print(f"  rejected as not a digit: {figures['digits_rejected'] * PERCENT:.2f}%   network accuracy {figures['digits_accuracy'] * PERCENT:.2f}%", file=log)
    print_shares("  rejected, per digit:", by_key(labels, rejected), log)
    print_shares("  rejected, per pen width:", by_key(widths, rejected), log)


    others_fields = draw_fields(
        [sample["strokes"] for sample in measuring_others["samples"]], measuring_others["widths"], "measuring non-digits", log
    )
    characters = np.array([sample["label"] for sample in measuring_others["samples"]])
    accepted = head.is_digit(network.forward(others_fields))
    figures["others_rejected"] = share(~accepted)
    figures["others_counted"] = len(characters)
    per_character = by_key(characters, ~accepted)
    most_accepted = sorted(per_character.items(), key=lambda item: item[1][1])[:N_MOST_ACCEPTED]
    figures["others_most_accepted"] = {key: {"n": count, "rejected": fraction} for key, (count, fraction) in most_accepted}
    print(f"\nMeasuring writers' letters and symbols: {len(characters)} drawings, one random pen width each", file=log)
    print(f"  rejected as not a digit: {figures['others_rejected'] * PERCENT:.2f}%", file=log)
    print_shares("  rejected, the most often accepted characters:", dict(most_accepted), log)
    print_shares("  rejected, per pen width:", by_key(measuring_others["widths"], ~accepted), log)

    figures["generated_rejected"] = {}
    print("\nGenerated from measuring writers' strokes:", file=log)
    for kind, fields in generated.items():
        figures["generated_rejected"][kind] = share(~head.is_digit(network.forward(fields)))
        print(f"  {kind:>14}  {len(fields):6d}  {figures['generated_rejected'][kind] * PERCENT:6.2f}% rejected", file=log)

    X_test, y_test = mnist_test
    test_activations = [network.forward(X_test[start : start + FORWARD_BATCH]) for start in range(0, len(X_test), FORWARD_BATCH)]
    test_rejected = np.concatenate([~head.is_digit(activations) for activations in test_activations])
    test_correct = np.concatenate([activations[-1].argmax(axis=1) for activations in test_activations]) == y_test
    figures["mnist_test_rejected"] = share(test_rejected)
    figures["mnist_test_accuracy"] = share(test_correct)
    print(
        f"\nMNIST test: {figures['mnist_test_rejected'] * PERCENT:.2f}% rejected as not a digit, "
        f"network accuracy {figures['mnist_test_accuracy'] * PERCENT:.2f}% (unchanged: the network is frozen)",
        file=log,
    )
    return figures


# ---- The run -----------------------------------------------------------------


def read_data(data_dir):
    """Return (digits, others, mnist) read from the --data folder; raise DataMissingError naming what is missing."""
    missing = [str(data_dir / name) for name in (DIGITS_FILE, OTHERS_FILE) if not (data_dir / name).is_file()]
    if missing:
        raise DataMissingError(f"data not found: {', '.join(missing)} (give --data the folder holding handwriting/ and mnist/)")
    try:
        mnist = load_mnist(data_dir / MNIST_DIR, mirrors=())
    except MnistError as error:
        raise DataMissingError(f"MNIST not readable in {data_dir / MNIST_DIR}: {error}") from None
    return load_handwriting(data_dir / DIGITS_FILE), load_handwriting(data_dir / OTHERS_FILE), mnist


def generate_drawings(digits, others, per_kind, kinds, rng):
    """Return {kind: list of drawings} of generated non-digits made from these samples' strokes."""
    return {kind: negatives.generate(kind, per_kind, digits, others, rng) for kind in kinds}


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
    template = NotDigitHead.initialise(args.input_layers, sum(network.layer_sizes[i] for i in args.input_layers), (1,), rng)

    print("drawing the training drawings with the page's pen:", file=log, flush=True)
    drawings, widths, samples = every_width(digits_train)
    digit_features = head_inputs(network, template, draw_fields(drawings, widths, "digits", log))
    digit_writers = np.array([sample["writer"] for sample in samples])
    other_widths = rng.choice(WIDTHS, len(others_train))
    other_features = head_inputs(network, template, draw_fields([s["strokes"] for s in others_train], other_widths, "non-digits", log))
    other_writers = np.array([sample["writer"] for sample in others_train])
    per_kind = args.generated if not args.limit else min(args.generated, args.limit)
    generated = generate_drawings(digits_train, others_train, per_kind, args.kinds, rng)
    generated_drawings = [drawing for kind in args.kinds for drawing in generated[kind]]
    generated_features = head_inputs(
        network, template, draw_fields(generated_drawings, rng.choice(WIDTHS, len(generated_drawings)), "generated", log)
    )
    mnist_chosen = rng.permutation(len(mnist.train_labels))[: args.mnist if not args.limit else args.limit]
    mnist_features = head_inputs(network, template, to_features(mnist.train_images[mnist_chosen]))

    features = np.concatenate([digit_features, mnist_features, other_features, generated_features])
    groups = np.array(
        ["unipen_digit"] * len(digit_features) + ["mnist_digit"] * len(mnist_features)
        + ["other"] * len(other_features) + ["generated"] * len(generated_features)
    )
    targets = np.isin(groups, ("other", "generated")).astype(DTYPE)
    # Generated drawings and MNIST digits have no writer: they join every fold's training set.
    folds = np.full(len(groups), -1)
    folds[: len(digit_features)] = writer_folds(digit_writers, args.folds)
    other_start = len(digit_features) + len(mnist_features)
    folds[other_start : other_start + len(other_features)] = writer_folds(other_writers, args.folds)

    train_kwargs = {"input_layers": args.input_layers, "n_features": features.shape[1], "hidden": args.hidden, "epochs": args.epochs, "log": log}
    held_out_scores = np.zeros(len(groups), dtype=DTYPE)
    for fold in range(args.folds):
        print(f"cross-validation fold {fold + 1}/{args.folds}:", file=log, flush=True)
        trained = folds != fold
        head = fit_head(features[trained], targets[trained], loss_shares(groups[trained]), rng, **train_kwargs)
        held_out = folds == fold
        held_out_scores[held_out] = head.forward_features(features[held_out])[-1][:, 0]
    is_held_out_digit = (groups == "unipen_digit")
    threshold = threshold_for(held_out_scores[is_held_out_digit], args.digit_rejection)
    held_out_others = held_out_scores[groups == "other"]
    cross_validated = {
        "digits_rejected": share(held_out_scores[is_held_out_digit] >= threshold),
        "others_rejected": share(held_out_others >= threshold),
    }
    print(
        f"threshold {threshold:.6f}: held-out training writers' digits {cross_validated['digits_rejected'] * PERCENT:.2f}% "
        f"rejected, their non-digits {cross_validated['others_rejected'] * PERCENT:.2f}% rejected",
        file=log, flush=True,
    )

    print("final head on every training writer:", file=log, flush=True)
    head = fit_head(features, targets, loss_shares(groups), rng, **train_kwargs)
    head.threshold = threshold

    print("drawing the measuring writers' drawings:", file=log, flush=True)
    measured_generated = generate_drawings(digits_measuring, others_measuring, MEASURED_GENERATED_PER_KIND if not args.limit else args.limit, args.kinds or negatives.KINDS, rng)
    measured_generated_fields = {
        kind: draw_fields(drawings, rng.choice(WIDTHS, len(drawings)), kind, log) for kind, drawings in measured_generated.items() if drawings
    }
    figures = measure(
        head, network, digits_measuring,
        {"samples": others_measuring, "widths": rng.choice(WIDTHS, len(others_measuring))},
        measured_generated_fields, (to_features(mnist.test_images), mnist.test_labels.astype(np.int64)), log,
    )
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


def parse_layers(text):
    try:
        layers = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected layer indices like 1,2,3, got {text!r}") from None
    if not layers or min(layers) < 0:
        raise argparse.ArgumentTypeError(f"layer indices must be non-negative, got {text!r}")
    return layers


def parse_kinds(text):
    kinds = tuple(kind for kind in text.split(",") if kind)
    unknown = [kind for kind in kinds if kind not in negatives.KINDS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown kinds {unknown}; choose from {','.join(negatives.KINDS)}")
    return kinds


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m model.train_rejection", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="folder holding handwriting/ and mnist/ (the project's ../shared)")
    parser.add_argument("--out", type=Path, required=True, help="file to write the head to (.npz)")
    parser.add_argument("--seed", type=int, default=0, help="seed of every random choice")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_PATH, help="the frozen digit network")
    parser.add_argument("--input-layers", type=parse_layers, default=INPUT_LAYERS, help="activations the head reads (0 = pixels)")
    parser.add_argument("--hidden", type=parse_layers, default=HIDDEN, help="hidden layer sizes of the head")
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--folds", type=int, default=N_FOLDS, help="writer folds of the cross-validation")
    parser.add_argument("--digit-rejection", type=float, default=DIGIT_REJECTION, help="share of held-out digits the threshold may reject")
    parser.add_argument("--kinds", type=parse_kinds, default=negatives.KINDS, help="kinds of generated non-digits")
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
    command = shlex.join(["python", "-m", "model.train_rejection", *argv])
    try:
        head = run(args, command)
    except (DataMissingError, ModelFileError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    head.save(args.out)
    print(f"saved {args.out}: threshold {head.threshold:.6f}, {format_duration(head.metadata['training_seconds'])} in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
