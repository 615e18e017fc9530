"""Real handwriting posted to the real server: which samples, drawn how, and their answers.

A seeded, label-stratified choice of UNIPEN samples (`select_samples`),
each given a PNG style and a stroke width (`regression_cases`), drawn as
the page's canvas would (`render_case`) and posted a few at a time
(`classify_cases`). The regression tests and `python -m bench.realworld`
choose and post samples with these same functions.
"""

import collections
import http.client
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from typing import NamedTuple

import numpy as np

from bench.support.drawing import STYLES, draw_png
from bench.support.server import PROJECT_ROOT
from model.constants import N_CLASSES

DEFAULT_DATA_PATH = PROJECT_ROOT.parent / "shared" / "handwriting" / "unipen-dev.jsonl.gz"
"""The UNIPEN development half, beside the project (never copied into it)."""

DEFAULT_WIDTHS = (8, 13, 18, 23, 28)
"""Stroke widths in CSS pixels of the 280 px canvas: thin pen to thick finger."""

DEFAULT_WORKERS = 4
DEFAULT_SEED = 0

QUEUED_PER_WORKER = 4
"""Requests rendered ahead per worker thread: enough to keep them busy, few PNGs in memory."""


class Case(NamedTuple):
    """One drawing to recognise: which sample, in which PNG style, with which stroke width."""

    index: int
    style: str
    width: float


# ---- Choosing samples ---------------------------------------------------


def select_samples(samples, limit=None, seed=DEFAULT_SEED):
    """Return the indices of a seeded, label-stratified sample of `limit` samples, sorted.

    Each digit gets `limit // 10` samples, the lowest digits one more until
    `limit` is reached. Without a limit, or one as large as the data, every
    index is returned.
    """
    if limit is None or limit >= len(samples):
        return list(range(len(samples)))
    rng = np.random.default_rng(seed)
    by_label = collections.defaultdict(list)
    for index, sample in enumerate(samples):
        by_label[sample["label"]].append(index)
    chosen = []
    for label in range(N_CLASSES):
        quota = limit // N_CLASSES + (1 if label < limit % N_CLASSES else 0)
        chosen.extend(rng.permutation(by_label[label])[:quota].tolist())
    return sorted(chosen)


def regression_cases(samples, limit, seed=DEFAULT_SEED, styles=STYLES, widths=DEFAULT_WIDTHS):
    """Return one Case per selected sample, styles and stroke widths taken in turn per digit.

    The data's "style" field is assigned round-robin over the whole file,
    which leaves a small random sample unbalanced; taking the styles in turn
    within each digit's samples, one style later for each digit, keeps the
    round-robin balanced in the sample. With 3 styles and 5 widths (coprime),
    each digit's first 15 samples cover every (style, width) pair once.
    """
    seen_per_label = collections.Counter()
    cases = []
    for index in select_samples(samples, limit, seed):
        label = samples[index]["label"]
        turn = seen_per_label[label]
        seen_per_label[label] += 1
        style = styles[(turn + label) % len(styles)]
        cases.append(Case(index, style, widths[turn % len(widths)]))
    return cases


def render_case(samples, case):
    """Return the PNG bytes of a case, drawn as the page's canvas would."""
    return draw_png(samples[case.index]["strokes"], case.style, line_width=case.width)


def classify(client, samples, case, png):
    """Post one drawing; return its result record (errors are recorded, not raised)."""
    sample = samples[case.index]
    record = {
        "index": case.index,
        "label": sample["label"],
        "style": case.style,
        "width": case.width,
        "institution": sample["institution"],
        "writer": sample["writer"],
        "source": sample.get("source"),
    }
    try:
        status, body = client.predict_png(png)
    except (http.client.HTTPException, OSError, ValueError) as error:
        status, body = None, {"error": {"code": "transport", "message": repr(error)}}
    record["status"] = status
    if status == 200:
        record["predicted"] = body["digit"]
        record["confidence"] = body["confidence"]
        record["confident"] = body.get("confident")
        record["is_digit"] = body.get("is_digit")
        record["probabilities"] = body["probabilities"]
    else:
        record["predicted"] = None
        record["confidence"] = None
        record["is_digit"] = None
        record["error"] = body.get("error", body) if isinstance(body, dict) else body
    return record


def classify_cases(client, samples, cases, png_for, workers=DEFAULT_WORKERS):
    """Render and post every case, `workers` requests at a time; return the records.

    png_for(case) renders a case; it runs in the calling thread, a few
    requests ahead of the pool. Records come back in the order of `cases`.
    """
    records = [None] * len(cases)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        in_flight = {}
        for position, case in enumerate(cases):
            future = pool.submit(classify, client, samples, case, png_for(case))
            in_flight[future] = position
            if len(in_flight) >= workers * QUEUED_PER_WORKER:
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in done:
                    records[in_flight.pop(future)] = future.result()
        for future, position in in_flight.items():
            records[position] = future.result()
    return records, time.monotonic() - started
