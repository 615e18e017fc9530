"""Score a model on the MNIST test set and write its evaluation report: numbers and pictures.

    python -m model.evaluation.evaluate [--model model/weights.npz] [--data ../shared/mnist]
        [--report model/report] [--limit N]

The report folder receives ``report.json`` (accuracy, per-digit accuracy,
the confusion matrix, the most frequent confusions, how many test digits
the not-a-digit head rejects and what its training measured, the model's
identity and its training record) and four PNG pictures with the stable names of
`model.report_files`, so that the /model page and the README can link to
them. The numbers come from `model.evaluation.metrics`, the pictures from
`model.evaluation.charts` (matplotlib) and `model.evaluation.grids` (Pillow);
this module puts them together and runs the command line.
"""

import argparse
import io
import json
import math
import sys
from pathlib import Path

import numpy as np

from model import load
from model.atomic_write import write_atomically
from model.constants import DEFAULT_MODEL_PATH, N_CLASSES
from model.evaluation.charts import draw_confusion_matrix, draw_learning_curves
from model.evaluation.grids import draw_first_layer_weights, draw_misclassified
from model.evaluation.metrics import accuracy, most_confident_errors, score, top_confusions
from model.formatting import is_number, percent, utc_timestamp
from model.network import ModelFileError
from model.report_files import (
    CONFUSION_MATRIX_PNG,
    DEFAULT_REPORT_DIR,
    FIRST_LAYER_WEIGHTS_PNG,
    LEARNING_CURVES_PNG,
    MISCLASSIFIED_PNG,
    REPORT_FORMAT,
    REPORT_JSON,
    REPORT_PICTURES,
    REPORT_VERSION,
    most_accepted_characters,
    per_digit_accuracy,
)
from model.training.measure import reliability
from model.training.mnist import MnistError, load_test_set

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA_DIR = PROJECT_ROOT.parent / "shared" / "mnist"
"""The four MNIST files, beside the project (never copied into it)."""

MEASURED_BY = (
    "measured once on UNIPEN writers never used for training or tuning (python -m model.training.measure "
    "--record), copied from the model file"
)
"""Where the report's `not_digit.measuring_writers` figures come from: not from this evaluation."""

N_MOST_ACCEPTED_PRINTED = 5
"""Characters most often taken for digits named in the printed summary."""


def rejection_report(head, labels, scores):
    """Return the report's "not_digit" part: MNIST test rejections and the head's measured figures.

    head   : the "not_digit" part of the model's `describe()`, or None
             without a head (then the report's part is None too)
    labels : ndarray of shape (n_samples,), the true digits scored
    scores : Scores of the model on those samples, with its is_digit
    """
    if head is None:
        return None
    rejected = ~scores.is_digit
    wrong = scores.predicted != labels
    per_digit = [
        float(rejected[labels == digit].mean()) if np.any(labels == digit) else None
        for digit in range(N_CLASSES)
    ]
    measured = dict(head.get("measuring_writers") or {})
    return {
        "threshold": head.get("threshold"),
        "command": head.get("command"),
        "trained_at": head.get("trained_at"),
        "generated_kinds": head.get("generated_kinds"),
        "mnist_test": {
            "samples": len(labels),
            "rejected_count": int(rejected.sum()),
            "rejected": float(rejected.mean()) if len(labels) else None,
            "rejected_per_digit": per_digit,
            "errors": int(wrong.sum()),
            "errors_rejected": int((wrong & rejected).sum()),
        },
        "measuring_writers_source": MEASURED_BY,
        "measuring_writers": measured,
        "most_accepted": [
            {"character": character, "samples": samples, "rejected": share}
            for character, samples, share in most_accepted_characters(measured.get("others_most_accepted") or {})
        ],
    }


def build_report(network, labels, scores, shown_errors, evaluated_at, n_available=None):
    """Return the report as a JSON-ready dict (every number, no pictures).

    labels       : ndarray of shape (n_samples,), the true digits scored
    scores       : Scores of the network on those samples
    shown_errors : indices of the wrong answers drawn in the misclassified grid
    evaluated_at : ISO 8601 UTC timestamp of the evaluation
    n_available  : size of the whole test set, when only part of it was scored
    """
    confusion = scores.confusion
    metadata = network.metadata
    history = metadata.get("history") or []
    samples = confusion.sum(axis=1)
    n_samples = int(samples.sum())
    per_digit = per_digit_accuracy(confusion)
    confidence = scores.confidence
    return {
        "format": REPORT_FORMAT,
        "report_version": REPORT_VERSION,
        "evaluated_at": evaluated_at,
        "model": {
            "version": network.version,
            "layer_sizes": list(network.layer_sizes),
            "parameter_count": network.parameter_count,
        },
        "training": {
            "command": metadata.get("command"),
            "preset": metadata.get("preset"),
            "seed": metadata.get("seed"),
            "hyperparameters": metadata.get("hyperparameters"),
            "trained_at": metadata.get("trained_at"),
            "training_seconds": metadata.get("training_seconds"),
            "epochs": len(history),
            "best_epoch": metadata.get("best_epoch"),
            "val_accuracy": metadata.get("val_accuracy"),
            "test_accuracy": metadata.get("test_accuracy"),
        },
        "test_set": {
            "samples": n_samples,
            "complete": n_available is None or n_samples == n_available,
        },
        "accuracy": accuracy(confusion) if n_samples else None,
        "errors": n_samples - int(np.trace(confusion)),
        "per_digit": [
            {
                "digit": digit,
                "samples": int(samples[digit]),
                "correct": int(confusion[digit, digit]),
                "accuracy": None if math.isnan(per_digit[digit]) else float(per_digit[digit]),
            }
            for digit in range(N_CLASSES)
        ],
        "confusion": {
            "rows": "true digit",
            "columns": "predicted digit",
            "counts": confusion.tolist(),
        },
        "top_confusions": [
            {"true": true, "predicted": predicted, "count": count}
            for true, predicted, count in top_confusions(confusion)
        ],
        "misclassified_shown": [
            {
                "index": int(index),
                "true": int(labels[index]),
                "predicted": int(scores.predicted[index]),
                "confidence": float(confidence[index]),
            }
            for index in shown_errors
        ],
        "not_digit": rejection_report(network.describe()["not_digit"], labels, scores),
        "reliability": reliability(np.where(scores.is_digit, confidence, 0.0), (scores.predicted == labels) & scores.is_digit),
        "images": dict(REPORT_PICTURES),
    }


def format_summary(report):
    """Return a short plain-text summary of a report: accuracy, per digit, top confusions."""
    model = report["model"]
    training = report["training"]
    test_set = report["test_set"]
    sizes = "-".join(str(size) for size in model["layer_sizes"])
    lines = [f"Model {model['version']} ({sizes}, {model['parameter_count']:,} parameters)"]
    if training["command"]:
        lines.append(f"Trained {training['trained_at'] or 'at an unknown time'} by: {training['command']}")
    scope = "MNIST test set" if test_set["complete"] else "part of the MNIST test set"
    if report["accuracy"] is None:
        lines.append(f"Accuracy: no samples scored ({scope})")
    else:
        lines.append(
            f"Accuracy: {percent(report['accuracy'])} on {test_set['samples']} digits of the {scope} "
            f"({report['errors']} errors)"
        )
    recorded = training["test_accuracy"]
    if is_number(recorded) and test_set["complete"] and report["accuracy"] is not None:
        agreement = "matches" if abs(recorded - report["accuracy"]) < 0.5 / test_set["samples"] else "DIFFERS FROM"
        lines.append(f"Test accuracy recorded at training: {percent(recorded)} ({agreement} this evaluation)")
    per_digit = "  ".join(f"{entry['digit']}: {percent(entry['accuracy'], 1)}" for entry in report["per_digit"])
    lines.append(f"Per digit: {per_digit}")
    confusions = ", ".join(
        f"{entry['true']}->{entry['predicted']} ({entry['count']})" for entry in report["top_confusions"]
    )
    lines.append(f"Top confusions (true->predicted): {confusions or 'none'}")
    lines.extend(format_rejection(report.get("not_digit")))
    return "\n".join(lines)


def format_rejection(rejection):
    """Return the summary's lines about the not-a-digit head, from a report's "not_digit" part."""
    if rejection is None:
        return ["Not a digit: this model has no not-a-digit head (every drawing is read as a digit)"]
    test = rejection["mnist_test"]
    lines = [
        f"Not a digit (threshold {rejection['threshold']:.3f}): {percent(test['rejected'])} of the MNIST test digits "
        f"rejected ({test['rejected_count']} of {test['samples']}; {test['errors_rejected']} of the "
        f"{test['errors']} wrong answers)"
    ]
    measured = rejection["measuring_writers"]
    if measured:
        lines.append(
            f"Measured by its training on UNIPEN measuring writers: {percent(measured.get('others_rejected'))} "
            f"of {measured.get('others_counted')} letters and symbols rejected, "
            f"{percent(measured.get('digits_rejected'))} of {measured.get('digits_counted')} digits"
        )
    accepted = ", ".join(
        f"{entry['character']} ({percent(entry['rejected'], 1)} of {entry['samples']} rejected)"
        for entry in rejection["most_accepted"][:N_MOST_ACCEPTED_PRINTED]
    )
    if accepted:
        lines.append(f"Most often taken for digits: {accepted}")
    return lines


def to_json(value, indent=0):
    """Return value as indented JSON, each list or object of plain values on one line.

    The confusion matrix then reads as ten rows of ten counts, and each
    confusion pair as one line, rather than one number per line.
    """
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    if not any(isinstance(child, (dict, list)) for child in children):
        return json.dumps(value)
    inner = " " * (indent + 2)
    if isinstance(value, dict):
        items = [f"{inner}{json.dumps(key)}: {to_json(child, indent + 2)}" for key, child in value.items()]
        brackets = "{}"
    else:
        items = [f"{inner}{to_json(child, indent + 2)}" for child in value]
        brackets = "[]"
    return brackets[0] + "\n" + ",\n".join(items) + "\n" + " " * indent + brackets[1]


def png_bytes(image):
    """Return an image encoded as PNG."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def write_report(network, images, labels, report_dir, evaluated_at=None, n_available=None):
    """Score the network, write report.json and the four pictures into report_dir, return the report.

    images : ndarray of shape (n_samples, 28, 28), uint8, ink = 255
    labels : ndarray of shape (n_samples,)
    """
    evaluated_at = evaluated_at or utc_timestamp()
    scores = score(network, images, labels)
    errors = most_confident_errors(scores.probabilities, labels)
    report = build_report(network, labels, scores, errors, evaluated_at, n_available)

    confidence = scores.confidence[errors]
    pictures = {
        LEARNING_CURVES_PNG: draw_learning_curves(network.metadata.get("history") or [],
                                                  network.metadata.get("best_epoch")),
        MISCLASSIFIED_PNG: draw_misclassified(images[errors], labels[errors], scores.predicted[errors], confidence,
                                              report["errors"]),
        FIRST_LAYER_WEIGHTS_PNG: draw_first_layer_weights(network.weights[0]),
        CONFUSION_MATRIX_PNG: draw_confusion_matrix(scores.confusion),
    }
    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    for name, picture in pictures.items():
        write_atomically(report_dir / name, png_bytes(picture))
    write_atomically(report_dir / REPORT_JSON, (to_json(report) + "\n").encode())
    return report


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m model.evaluation.evaluate",
        description="Score a model on the MNIST test set and write report.json and pictures.",
    )
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_PATH,
                        help="model file (default: the committed model/weights.npz)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR,
                        help="folder with the MNIST IDX files (default: ../shared/mnist beside the project)")
    parser.add_argument("--report", type=Path, default=DEFAULT_REPORT_DIR,
                        help="folder to write the report into (default: model/report)")
    parser.add_argument("--limit", type=int, default=None, metavar="N",
                        help="score only the first N test digits (a quick check, not a result)")
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        parser.error(f"--limit must be a positive number of digits, got {args.limit}")
    return args


def main(argv=None):
    """Run the command line: load, score, write the report, print the summary."""
    args = parse_args(argv)
    try:
        network = load(args.model)
    except ModelFileError as error:
        sys.exit(f"error: cannot load the model: {error}")
    try:
        images, labels = load_test_set(args.data)
    except MnistError as error:
        sys.exit(f"error: cannot read the MNIST test set: {error}")
    n_available = len(labels)
    if args.limit is not None:
        images, labels = images[: args.limit], labels[: args.limit]
    report = write_report(network, images, labels, args.report, n_available=n_available)
    print(format_summary(report))
    print(f"Report written to {args.report}/ ({REPORT_JSON} and {len(report['images'])} PNG pictures)")
    return report


if __name__ == "__main__":
    main()
