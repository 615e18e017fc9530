"""Measure how well the real server reads real handwriting.

Each UNIPEN pen trajectory is drawn the way the page's 280×280 canvas draws
it (bench.support.drawing), in each PNG style and each stroke width asked for, and
posted to /predict of a running server, or of the Procfile's gunicorn
started for the run. The report breaks accuracy down by style, stroke
width, digit and institution, lists the most frequent confusions, and
tabulates how the top probability separates right answers from wrong ones:
the table the confidence threshold is chosen from.

    python -m bench.realworld [--url URL] [--limit N] [--widths 8,13,18,23,28]
        [--styles transparent,white,black] [--workers K] [--seed S] [--json PATH]

Drawings are rendered in the main thread while a small pool of threads
keeps keep-alive connections busy: rendering is cheap (a few ms), and on a
small machine the server needs the other cores.
"""

import argparse
import collections
import json
import sys
import time
from pathlib import Path

import numpy as np

from bench.support.client import PredictClient
from bench.support.drawing import STYLES, encode_image, encode_style
from bench.support.samples import (
    DEFAULT_DATA_PATH,
    DEFAULT_SEED,
    DEFAULT_WIDTHS,
    DEFAULT_WORKERS,
    Case,
    classify_cases,
    select_samples,
)
from bench.support.server import server_url
from model.constants import N_CLASSES
from model.formatting import percent
from model.training.handwriting import load_handwriting, render_strokes, split_by_writer

THRESHOLDS = tuple(round(0.5 + 0.05 * step, 2) for step in range(10))
"""Top-probability thresholds tabulated for choosing the "not sure" cut-off: 0.50 to 0.95."""

N_CONFUSIONS = 15
"""How many of the most frequent (true → predicted) pairs are printed."""

PROGRESS_EVERY = 100
"""Print progress after this many samples."""

# ---- Rendering every case -----------------------------------------------


def benchmark_cases(indices, styles, widths):
    """Return every (sample, width, style) case, widths before styles so each ink is drawn once."""
    return [Case(index, style, width) for index in indices for width in widths for style in styles]


class InkCache:
    """Render each (sample, width) once and encode it in every style asked for."""

    def __init__(self, samples, n_indices):
        self._samples = samples
        self._key = None
        self._ink = None
        self._n_indices = n_indices
        self._seen = set()
        self._started = time.monotonic()

    def __call__(self, case):
        key = (case.index, case.width)
        if key != self._key:
            self._key = key
            self._ink = render_strokes(self._samples[case.index]["strokes"], case.width)
            self._report_progress(case.index)
        return encode_image(encode_style(self._ink, case.style))

    def _report_progress(self, index):
        if index in self._seen:
            return
        self._seen.add(index)
        if len(self._seen) % PROGRESS_EVERY == 0:
            elapsed = time.monotonic() - self._started
            print(
                f"  {len(self._seen)}/{self._n_indices} samples rendered ({elapsed:.0f} s)",
                file=sys.stderr,
                flush=True,
            )


# ---- Reporting ----------------------------------------------------------


def is_correct(record):
    return record["predicted"] == record["label"]


WRITERS = ("measuring", "training", "all")


def writers_samples(samples, writers):
    """Return the samples of the writers asked for: "measuring", "training" or "all"."""
    if writers == "all":
        return samples
    training, measuring = split_by_writer(samples)
    return measuring if writers == "measuring" else training


def accuracy(records):
    return sum(map(is_correct, records)) / len(records) if records else float("nan")


def print_breakdown(title, records, key, order=None):
    """Print count and accuracy for each value of record[key], in `order` or sorted."""
    groups = collections.defaultdict(list)
    for record in records:
        groups[record[key]].append(record)
    print(f"\n{title}")
    print(f"  {'':>12}  {'n':>6}  {'accuracy':>8}")
    for value in order or sorted(groups, key=str):
        if value in groups:
            group = groups[value]
            print(f"  {value!s:>12}  {len(group):6d}  {percent(accuracy(group)):>8}")


def print_confusions(records, limit=N_CONFUSIONS):
    pairs = collections.Counter(
        (record["label"], record["predicted"]) for record in records if not is_correct(record)
    )
    print(f"\nMost frequent confusions (true → predicted), of {sum(pairs.values())} errors")
    for (label, predicted), count in pairs.most_common(limit):
        shown = "error" if predicted is None else predicted
        print(f"  {label} → {shown}  {count:5d}")


def print_confident_split(records):
    """Print accuracy of the answers the server marks confident and not, if it marks them."""
    marked = [record for record in records if record.get("confident") is not None]
    if not marked:
        print('\nThe server does not mark answers "confident" yet.')
        return
    print('\nAnswers by the server\'s "confident" flag')
    for flag in (True, False):
        group = [record for record in marked if record["confident"] is flag]
        share = len(group) / len(marked)
        print(
            f"  confident={flag!s:5}  {len(group):6d} ({percent(share):>7})"
            f"  accuracy {percent(accuracy(group)):>7}"
        )


THRESHOLD_COLUMNS = ("threshold", "below", "acc. above", "acc. below", "wrong flagged")


def print_threshold_table(records, thresholds=THRESHOLDS):
    """Print how a cut-off on the top probability splits the answers.

    For each threshold: the share of answers below it (those that would be
    flagged "not sure"), the accuracy above and below it, and the share of
    all wrong answers that fall below it (the mistakes the flag would catch).
    """
    answered = [record for record in records if record["confidence"] is not None]
    if not answered:
        return
    confidence = np.array([record["confidence"] for record in answered])
    correct = np.array([is_correct(record) for record in answered])
    n_wrong = max(int((~correct).sum()), 1)
    widths = [max(len(title), len(percent(1.0))) for title in THRESHOLD_COLUMNS]
    print('\nTop-probability threshold: answers below it would be flagged "not sure"')
    print("  " + "  ".join(title.rjust(width) for title, width in zip(THRESHOLD_COLUMNS, widths)))
    for threshold in thresholds:
        below = confidence < threshold
        row = (
            f"{threshold:.2f}",
            percent(below.mean()),
            percent(correct[~below].mean() if (~below).any() else np.nan),
            percent(correct[below].mean() if below.any() else np.nan),
            percent((below & ~correct).sum() / n_wrong),
        )
        print("  " + "  ".join(cell.rjust(width) for cell, width in zip(row, widths)))


def error_code(record):
    error = record.get("error")
    return error.get("code", "?") if isinstance(error, dict) else "?"


def print_report(records, styles, widths):
    failed = [record for record in records if record["status"] != 200]
    print(f"\nOverall accuracy: {percent(accuracy(records))} of {len(records)} drawings")
    if failed:
        codes = collections.Counter(
            f"{record['status']} {error_code(record)}" for record in failed
        )
        print(f"  {len(failed)} requests failed (counted as wrong): {dict(codes)}")
    print_breakdown("By style", records, "style", order=styles)
    print_breakdown("By stroke width", records, "width", order=widths)
    print_breakdown("By digit", records, "label", order=range(N_CLASSES))
    print_breakdown("By institution", records, "institution")
    print_confusions(records)
    print_confident_split(records)
    print_threshold_table(records)


# ---- Command line -------------------------------------------------------


def comma_list(convert, allowed=None):
    def parse(text):
        values = [convert(item) for item in text.split(",") if item.strip()]
        if not values:
            raise argparse.ArgumentTypeError("give at least one value")
        if allowed is not None:
            unknown = [value for value in values if value not in allowed]
            if unknown:
                raise argparse.ArgumentTypeError(f"{unknown} not among {list(allowed)}")
        return tuple(values)

    return parse


def stroke_width(text):
    value = float(text)
    return int(value) if value.is_integer() else value


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--url", help="base URL of a running server (default: start the Procfile's gunicorn)"
    )
    parser.add_argument(
        "--data", type=Path, default=DEFAULT_DATA_PATH, help="UNIPEN .jsonl.gz file"
    )
    parser.add_argument(
        "--limit", type=int, help="take a seeded, label-stratified sample of this many"
    )
    parser.add_argument("--widths", type=comma_list(stroke_width), default=DEFAULT_WIDTHS)
    parser.add_argument("--styles", type=comma_list(str, STYLES), default=STYLES)
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--writers", choices=WRITERS, default="measuring",
                        help="whose drawings: the measuring writers (never trained or tuned on), the training ones, or all")
    parser.add_argument("--json", type=Path, help="save every per-drawing result here")
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit <= 0:
        parser.error(f"--limit must be positive, got {args.limit}")
    if args.workers <= 0:
        parser.error(f"--workers must be positive, got {args.workers}")
    if not args.data.is_file():
        parser.error(f"handwriting data not found at {args.data}")
    return args


def run(args, base_url):
    samples = writers_samples(load_handwriting(args.data), args.writers)
    indices = select_samples(samples, args.limit, args.seed)
    cases = benchmark_cases(indices, args.styles, args.widths)
    with PredictClient(base_url) as client:
        version = client.model_version()
        print(
            f"{len(indices)} samples × {len(args.styles)} styles × {len(args.widths)} widths"
            f" = {len(cases)} drawings → {base_url} (model {version}), {args.workers} workers",
            flush=True,
        )
        records, elapsed = classify_cases(
            client, samples, cases, InkCache(samples, len(indices)), args.workers
        )
    print_report(records, args.styles, args.widths)
    print(f"\nElapsed: {elapsed:.1f} s ({len(cases) / elapsed:.0f} drawings/s)")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        summary = {
            "model": version,
            "data": str(args.data),
            "limit": args.limit,
            "seed": args.seed,
            "styles": list(args.styles),
            "widths": list(args.widths),
            "accuracy": accuracy(records),
            "elapsed_s": round(elapsed, 1),
            "results": records,
        }
        args.json.write_text(json.dumps(summary))
        print(f"Per-drawing results saved to {args.json}")


def main(argv=None):
    args = parse_args(argv)
    with server_url(args.url, "bench-realworld") as base_url:
        run(args, base_url)


if __name__ == "__main__":
    main()
