"""Measure a model file on the measuring writers and MNIST's test set: every target of "learn from real drawings".

    python -m model.training.measure --model model/weights.npz --data ../shared

With --record the figures go into the model file's metadata, where the
/model page reads them. Measuring writers
(`model.training.handwriting.is_measuring_writer`) are drawn as the page draws them (`render_strokes`, at the pen widths
bench.realworld uses, in turn) and prepared by the served pipeline, then read
in one pass. Printed and returned: digits right, digits answered not a
digit, confident answers (at the app's threshold and at the model's own)
and how often they are right; letters and symbols answered not a digit and
confident, per character; MNIST test right and answered not a digit. No
number printed here chooses anything.
"""

import argparse
import collections
import json
import shlex
import sys
from pathlib import Path

import numpy as np

import model
from model.constants import MAX_INTENSITY, N_CLASSES
from model.modelfile import read_model_file, write_model_file
from model.preprocess import NoInkError, digit_field
from model.training import negatives
from model.training.handwriting import load_handwriting, render_strokes, split_by_writer
from model.training.mnist import load_mnist, to_features
from model.training.trainset import DIGITS_FILE, GENERATED_KINDS, OTHERS_FILE

WIDTHS = (8, 13, 18, 23, 28)
"""Pen widths, taken in turn, as bench.realworld draws the drawings."""

APP_CONFIDENCE = 0.9
"""The app's threshold of "confident" for a model that carries none (app/confidence.py), for comparison with the model's own."""

RELIABILITY_EDGES = np.array([0.0, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 1.0])
"""Confidence bins of the reliability diagram: finer near 1, where most answers are."""

MEASURED_PER_KIND = 300
"""Generated non-digits of each kind made from measuring writers' strokes."""

MEASURING_SEED = 0
"""Seed of the generated non-digits, so that every measurement shows the same drawings."""


def fields_of(samples):
    """Return the network inputs (n, 28, 28) of samples drawn by the page's renderer, widths in turn."""
    out = np.zeros((len(samples), 28, 28), dtype=np.float32)
    for i, sample in enumerate(samples):
        ink = np.asarray(render_strokes(sample["strokes"], WIDTHS[i % len(WIDTHS)]), dtype=np.float32)
        try:
            out[i] = digit_field(ink / MAX_INTENSITY)
        except NoInkError:
            continue
    return out


def confident(prediction, threshold):
    """Return (n,) bool: answers the page would call sure at `threshold` (is_digit and top probability)."""
    return prediction.is_digit & (prediction.probabilities.max(axis=1) >= threshold)


def reliability(confidence, right, edges=RELIABILITY_EDGES):
    """Return the reliability diagram's bins: answers, mean confidence and share right per confidence bin.

    confidence : (n,) top digit probability of each answer; right: (n,) bool
    """
    bins = []
    for low, high in zip(edges[:-1], edges[1:]):
        chosen = (confidence >= low) & ((confidence < high) | (high == edges[-1]))
        bins.append({"low": float(low), "high": float(high), "answers": int(chosen.sum()),
                     "confidence": float(confidence[chosen].mean()) if chosen.any() else None,
                     "right": float(right[chosen].mean()) if chosen.any() else None})
    return bins


def share(flags):
    """Return the share of True in flags as a float, None when empty."""
    return float(np.mean(flags)) if len(flags) else None


def measure(network, digits, others, mnist, rng):
    """Return the figures of `network` on measuring writers' digits and others (samples) and MNIST's test set.

    Keys as the /model page reads them (`describe()["not_digit"]["measuring_writers"]`).
    """
    threshold = getattr(network, "calibration", {}).get("confidence_threshold") or APP_CONFIDENCE
    p = network.recognise(fields_of(digits))
    y = np.array([d["label"] for d in digits])
    answer_confidence = p.probabilities.max(axis=1)
    right = p.probabilities.argmax(axis=1) == y
    sure = confident(p, threshold)
    sure_app = confident(p, APP_CONFIDENCE)
    q = network.recognise(fields_of(others))
    per_character = collections.defaultdict(list)
    for sample, flag in zip(others, ~q.is_digit):
        per_character[sample["label"]].append(bool(flag))
    generated = {}
    for kind in GENERATED_KINDS:
        drawings = negatives.generate(kind, MEASURED_PER_KIND, digits, others, rng)
        generated[kind] = share(~network.recognise(fields_of([{"strokes": d} for d in drawings])).is_digit)
    t = network.recognise(to_features(mnist.test_images))
    test_right = t.probabilities.argmax(axis=1) == mnist.test_labels
    return {
        "digits_counted": len(y),
        "digits_right": share(right),
        "digits_rejected": share(~p.is_digit),
        "digits_rejected_per_digit": {str(d): share(~p.is_digit[y == d]) for d in range(N_CLASSES)},
        "confidence_threshold": threshold,
        "digits_confident": share(sure),
        "digits_confident_right": share(right[sure]),
        "digits_confident_at_app_threshold": share(sure_app),
        "digits_confident_right_at_app_threshold": share(right[sure_app]),
        "reliability": reliability(np.where(p.is_digit, answer_confidence, 0.0), right & p.is_digit),
        "others_counted": len(others),
        "others_rejected": share(~q.is_digit),
        "others_confident": share(confident(q, threshold)),
        "others_confident_at_app_threshold": share(confident(q, APP_CONFIDENCE)),
        "others_most_accepted": {c: {"n": len(f), "rejected": share(f)} for c, f in sorted(per_character.items())},
        "generated_rejected": generated,
        "mnist_test_right": share(test_right),
        "mnist_test_rejected": share(~t.is_digit),
        "mnist_test_confident": share(confident(t, threshold)),
        "mnist_test_confident_right": share(test_right[confident(t, threshold)]),
    }


def record(path, figures, command):
    """Write the figures into the model file's metadata (the weights, and so the version, stay as they are)."""
    kind, arrays, metadata = read_model_file(path)
    metadata["measuring_writers"] = {**figures, "command": command}
    write_model_file(path, kind, arrays, metadata)


def main(argv=None):
    """Run the command line; print the figures as JSON; return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m model.training.measure", description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="model file to measure")
    parser.add_argument("--data", type=Path, required=True, help="../shared: mnist/ and handwriting/")
    parser.add_argument("--limit", type=int, help="measure at most this many drawings of each kind")
    parser.add_argument("--record", action="store_true", help="write the figures into the model file's metadata")
    args = parser.parse_args(argv)
    network = model.load(args.model)
    _, digits = split_by_writer(load_handwriting(args.data / "handwriting" / DIGITS_FILE))
    _, others = split_by_writer(load_handwriting(args.data / "handwriting" / OTHERS_FILE))
    figures = measure(network, digits[: args.limit], others[: args.limit], load_mnist(args.data / "mnist"),
                      np.random.default_rng(MEASURING_SEED))
    if args.record:
        record(args.model, figures, shlex.join(["python", "-m", "model.training.measure", *(argv or sys.argv[1:])]))
    json.dump({**figures, "model": network.version}, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
