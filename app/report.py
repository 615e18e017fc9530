"""The model page's numbers: the model's record and its evaluation report, read and formatted.

The model page shows what training and evaluation recorded for the model
the server runs: its metadata (in the model file, with what its not-a-digit
head measured) and the evaluation report that `python -m model.evaluation.evaluate`
writes into model/report/. `describe_model` reads both once at start-up and
prepares every number and string the page shows, so a request only fills
in the template. A missing or unreadable report does not stop the app: the
page says what is wrong.
"""

import hashlib
import json
import logging
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from PIL import Image, UnidentifiedImageError

from model.constants import N_CLASSES
from model.formatting import UNKNOWN, duration, is_number, percent, probability_percent
from model.report_files import REPORT_FORMAT, REPORT_JSON, REPORT_PICTURES, confusion_shades, most_accepted_characters

logger = logging.getLogger(__name__)

DIGEST_LENGTH = 12
"""Hex digits of a picture's SHA-256 put in its URL, so a new report gets new URLs."""

HEAT_LEVELS = 8
"""Shades of the confusion heat map; static/style.css defines .heat-1 to .heat-8."""

BYTES_PER_MB = 1024 * 1024

SHARE_DECIMALS = 1
"""Decimals of a character's share rejected: a few dozen samples each, so tenths are plenty."""

THRESHOLD_DECIMALS = 3


class ReportImage(NamedTuple):
    """A picture of the report: its URL name, the digest that versions it, its pixel size."""

    name: str
    digest: str
    width: int
    height: int


class ModelDescription(NamedTuple):
    """Everything the model page shows, prepared at start-up.

    model       : dict, what the model file says about itself (always there)
    rejection   : dict or None, what its not-a-digit head measured; None without a head
    report      : dict or None, the evaluation report, ready to show
    problem     : str or None, why there is no report
    report_dir  : Path of the folder the pictures are served from
    images      : dict name -> ReportImage, the pictures that can be served
    """

    model: dict
    rejection: dict | None
    report: dict | None
    problem: str | None
    report_dir: Path
    images: dict


class ReportError(Exception):
    """The report file is there but cannot be used; the message says why."""


# Formatting ------------------------------------------------------------------


def timestamp(value):
    """Return {"iso", "text"} for an ISO 8601 time ('23 November 2026 at 11:06 UTC'), None when absent.

    Training and evaluation write UTC ('...Z'); a time without a zone is taken as UTC.
    """
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return {"iso": value, "text": value}
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return {"iso": value, "text": f"{moment.day} {moment:%B %Y at %H:%M} UTC"}


def flatten(value, prefix=""):
    """Return a nested dict of settings as (dotted name, text) rows, in key order."""
    if isinstance(value, dict):
        rows = []
        for key, child in value.items():
            rows.extend(flatten(child, f"{prefix}.{key}" if prefix else str(key)))
        return rows
    if isinstance(value, list):
        text = ", ".join(str(item) for item in value)
    elif value is None:
        text = "none"
    else:
        text = str(value)
    return [(prefix, text)]


# Reading the model and the report -------------------------------------------------


def describe_network(description, model_path):
    """Return what the model page shows about the model: its summary, size, training record.

    description : the model's own `describe()`: plain data, never its weights
                  or its layers, so that any kind of model can be shown.
    """
    metadata = description["metadata"]
    history = metadata.get("history") or []
    try:
        file_size = Path(model_path).stat().st_size
    except OSError:
        file_size = None
    return {
        "version": description["version"],
        "summary": description["summary"],
        "architecture": description["architecture"],
        "parameter_count": f"{description['parameter_count']:,}",
        "dtype": description["dtype"],
        "file_size": None if file_size is None else f"{file_size / BYTES_PER_MB:.1f} MB",
        "command": metadata.get("command"),
        "preset": metadata.get("preset"),
        "seed": metadata.get("seed"),
        "trained_at": timestamp(metadata.get("trained_at")),
        "training_time": duration(metadata.get("training_seconds")),
        "epochs": len(history),
        "best_epoch": metadata.get("best_epoch"),
        "val_accuracy": percent(metadata.get("val_accuracy")),
        "test_accuracy": percent(metadata.get("test_accuracy")),
        "hyperparameters": flatten(metadata.get("hyperparameters") or {}),
        "versions": [
            (name, metadata[key])
            for name, key in (("NumPy", "numpy_version"), ("SciPy", "scipy_version"),
                              ("Preprocessing version", "preprocessing_version"))
            if key in metadata
        ],
        "history": [
            {
                "epoch": entry.get("epoch"),
                "train_loss": _number(entry.get("train_loss")),
                "val_loss": _number(entry.get("val_loss")),
                "train_accuracy": percent(entry.get("train_accuracy")),
                "val_accuracy": percent(entry.get("val_accuracy")),
            }
            for entry in history
            if isinstance(entry, dict)
        ],
    }


def describe_rejection(head):
    """Return what the not-a-digit head measured, ready to show; None for a model without one.

    head : the "not_digit" part of the model's `describe()`: its threshold,
           training record and the figures training measured on UNIPEN
           writers never used for training (under "measuring_writers").
    """
    if head is None:
        return None
    measured = head.get("measuring_writers") or {}
    per_digit = measured.get("digits_rejected_per_digit") or {}
    generated = measured.get("generated_rejected") or {}
    trained_on = head.get("generated_kinds") or []
    cross_validated = head.get("cross_validated") or {}
    return {
        "kind": head.get("kind", "head"),
        "threshold": _number(head.get("threshold"), THRESHOLD_DECIMALS),
        "confidence_threshold": _number(measured.get("confidence_threshold"), THRESHOLD_DECIMALS),
        "digits_right": percent(measured.get("digits_right")),
        "digits_confident": percent(measured.get("digits_confident")),
        "digits_confident_right": percent(measured.get("digits_confident_right"), SHARE_DECIMALS),
        "others_confident": percent(measured.get("others_confident"), SHARE_DECIMALS),
        "reliability": [
            {"bin": f"{entry['low']:.3g}–{entry['high']:.3g}", "answers": _count(entry.get("answers")),
             "confidence": percent(entry.get("confidence")), "right": percent(entry.get("right")),
             "bar": entry["right"] if is_number(entry.get("right")) else 0}
            for entry in measured.get("reliability") or [] if isinstance(entry, dict) and entry.get("answers")
        ],
        "command": head.get("command"),
        "trained_at": timestamp(head.get("trained_at")),
        "training_time": duration(head.get("training_seconds")),
        "others_rejected": percent(measured.get("others_rejected")),
        "others_counted": _count(measured.get("others_counted")),
        "digits_rejected": percent(measured.get("digits_rejected")),
        "digits_counted": _count(measured.get("digits_counted")),
        "mnist_test_rejected": percent(measured.get("mnist_test_rejected")),
        "cross_validated_others": percent(cross_validated.get("others_rejected")),
        "cross_validated_digits": percent(cross_validated.get("digits_rejected")),
        "per_digit": [
            {"digit": digit, "rejected": percent(per_digit.get(str(digit)))} for digit in range(N_CLASSES)
        ],
        "most_accepted": [
            {"character": character, "samples": f"{samples:,}", "rejected": percent(rejected, SHARE_DECIMALS)}
            for character, samples, rejected in most_accepted_characters(measured.get("others_most_accepted") or {})
        ],
        "generated": [
            {"kind": kind.replace("_", " "), "rejected": percent(share), "trained_on": kind in trained_on}
            for kind, share in sorted(generated.items())
        ],
    }


def _count(value):
    """Write a count with thousands separators: 6500 is '6,500'; UNKNOWN when missing."""
    if not is_number(value):
        return UNKNOWN
    return f"{int(value):,}"


def _number(value, decimals=4):
    """Write a number with `decimals` decimals; UNKNOWN when missing."""
    if not is_number(value):
        return UNKNOWN
    return f"{value:.{decimals}f}"


def read_report(report_dir):
    """Return report.json from report_dir as a dict, or raise ReportError saying why not."""
    path = Path(report_dir) / REPORT_JSON
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReportError(f"{path} was not found") from None
    except OSError as error:
        raise ReportError(f"{path} could not be read ({error.strerror})") from None
    try:
        report = json.loads(text)
    except ValueError as error:
        raise ReportError(f"{path} is not valid JSON ({error})") from None
    if not isinstance(report, dict) or report.get("format") != REPORT_FORMAT:
        raise ReportError(f"{path} is not a report written by python -m model.evaluation.evaluate")
    return report


def describe_report(report, model_version):
    """Return the report's numbers ready to show: formatted, with the heat map's shades.

    Raises ReportError if a key the page needs is missing or has the wrong shape.
    """
    try:
        counts = report["confusion"]["counts"]
        per_digit = report["per_digit"]
        test_set = report["test_set"]
        reported_version = report["model"]["version"]
        if len(counts) != N_CLASSES or any(len(row) != N_CLASSES for row in counts):
            raise ValueError("the confusion matrix is not 10 × 10")
        return {
            "evaluated_at": timestamp(report.get("evaluated_at")),
            "model_version": reported_version,
            "matches_model": reported_version == model_version,
            "accuracy": percent(report["accuracy"]),
            "errors": f"{int(report['errors']):,}",
            "samples": f"{int(test_set['samples']):,}",
            "complete": bool(test_set["complete"]),
            "per_digit": [
                {
                    "digit": int(entry["digit"]),
                    "samples": f"{int(entry['samples']):,}",
                    "correct": f"{int(entry['correct']):,}",
                    "errors": f"{int(entry['samples']) - int(entry['correct']):,}",
                    "accuracy": percent(entry["accuracy"]),
                }
                for entry in per_digit
            ],
            "not_digit_rejected": _evaluated_rejection(report.get("not_digit")),
            "confusion": heat_map(counts),
            "top_confusions": [
                {"true": int(entry["true"]), "predicted": int(entry["predicted"]), "count": int(entry["count"])}
                for entry in report.get("top_confusions", [])
            ],
            "misclassified": [
                {
                    "index": int(entry["index"]),
                    "true": int(entry["true"]),
                    "predicted": int(entry["predicted"]),
                    "confidence": probability_percent(entry["confidence"]),
                }
                for entry in report.get("misclassified_shown", [])
            ],
        }
    except (KeyError, TypeError, ValueError) as error:
        raise ReportError(f"{REPORT_JSON} lacks what the page needs ({type(error).__name__}: {error})") from None


def _evaluated_rejection(rejection):
    """Return the share of test digits the evaluation saw rejected, None in a report without it.

    Reports written before the not-a-digit head have no "not_digit" part; they stay readable.
    """
    if not isinstance(rejection, dict) or not isinstance(rejection.get("mnist_test"), dict):
        return None
    return percent(rejection["mnist_test"].get("rejected"))


def heat_map(counts):
    """Return the confusion matrix as rows of cells {count, kind, level} for the HTML heat map.

    counts : 10 lists of 10 ints, rows true digit, columns predicted digit.
    Shaded as the report's picture is (model.report_files.confusion_shades):
    level 0 is unshaded, 1 to HEAT_LEVELS darker.
    """
    counts = [[int(count) for count in row] for row in counts]
    shades = confusion_shades(counts)
    rows = []
    for true, row in enumerate(counts):
        cells = []
        for predicted, count in enumerate(row):
            level = max(1, math.ceil(shades[true, predicted] * HEAT_LEVELS)) if count else 0
            cells.append({"count": str(count), "kind": "right" if true == predicted else "wrong", "level": level})
        rows.append({"digit": true, "cells": cells})
    return rows


def report_images(report_dir):
    """Return {name: ReportImage} for the report pictures present in report_dir.

    Only the pictures of REPORT_PICTURES are served, by the name in their URL
    (/model/report/<name>.png).
    """
    images = {}
    for name, filename in REPORT_PICTURES.items():
        path = Path(report_dir) / filename
        try:
            data = path.read_bytes()
            with Image.open(path) as picture:
                width, height = picture.size
        except FileNotFoundError:
            logger.warning("report picture %s is missing", path)
            continue
        except (OSError, UnidentifiedImageError) as error:
            logger.warning("report picture %s cannot be read: %s", path, error)
            continue
        digest = hashlib.sha256(data).hexdigest()[:DIGEST_LENGTH]
        images[name] = ReportImage(name, digest, width, height)
    return images


def describe_model(served_model, model_path, report_dir):
    """Read the model's record and its evaluation report once, for the model page.

    A missing or malformed report is logged and described on the page; it
    never stops start-up, since the app can recognise digits without it.
    """
    report_dir = Path(report_dir).resolve()
    description = served_model.describe()
    model = describe_network(description, model_path)
    rejection = describe_rejection(description.get("not_digit"))
    try:
        report = describe_report(read_report(report_dir), model["version"])
    except ReportError as error:
        logger.warning("the /model page has no evaluation report: %s", error)
        return ModelDescription(model, rejection, None, str(error), report_dir, {})
    if not report["matches_model"]:
        logger.warning("the evaluation report describes model %s, but the app serves %s",
                       report["model_version"], model["version"])
    return ModelDescription(model, rejection, report, None, report_dir, report_images(report_dir))
