"""Measure how well the real server reads photos of handwritten digits on paper, and refuses empty paper.

The measuring writers' UNIPEN digits are written on photo-like paper by
`model.training.photos` (uneven light, shadows, grain, ruled lines, black,
blue and pencil ink, camera tilt and blur, JPEG) and posted to /predict and
/predict/number; photos of paper without a digit are posted to both too.

    python -m bench.photos [--url URL] [--count N] [--blank N] [--seed S]
        [--workers K] [--in-process]

Each picture's randomness comes from (seed, sample index), so a run is the
same whatever the order or the number of workers. `--in-process` posts
through the app's test client instead of a server, for fast iteration.
"""

import argparse
import collections
import http.client
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np

from bench.realworld import DEFAULT_DATA_PATH, PredictClient, select_samples
from bench.support.server import server_url
from model.formatting import percent
from model.training.handwriting import is_measuring_writer, load_handwriting
from model.training.photos import BLANK_KINDS, blank_photo, photo_of_strokes

DEFAULT_COUNT = 1000
"""Photos of digits, label-stratified."""

DEFAULT_BLANK = 200
"""Photos of paper without a digit."""

DEFAULT_SEED = 0
DEFAULT_WORKERS = 2
"""The machine this runs on has 2 cores, which the server needs too."""

BLANK_SEED_OFFSET = 1_000_003
"""Keeps the blank photos' random streams apart from the digits'."""

JPEG_HEADERS = {"Content-Type": "image/jpeg", "Accept": "application/json"}


class Answer(NamedTuple):
    """What /predict and /predict/number said about one photo."""

    digit: int
    """/predict's digit, or None when it answered an error."""
    confident: bool
    is_digit: bool
    error: str
    """/predict's error code, or "" when it answered 200."""
    number: str
    """/predict/number's digits, or "" on an error."""
    number_confident: bool
    number_error: str


# ---- Asking the server --------------------------------------------------------


class ServerAsker:
    """Post a JPEG to both endpoints of a running server."""

    def __init__(self, client):
        self._client = client

    def post(self, path, jpeg):
        try:
            return self._client.request("POST", path, jpeg, JPEG_HEADERS)
        except (http.client.HTTPException, OSError, ValueError) as error:
            return None, {"error": {"code": f"transport: {error!r}"}}


class InProcessAsker:
    """Post a JPEG to both endpoints through the app's test client: the same code, no server."""

    def __init__(self):
        from app import create_app

        self._app = create_app({"TESTING": True})

    def post(self, path, jpeg):
        response = self._app.test_client().post(path, data=jpeg, headers=JPEG_HEADERS)
        return response.status_code, response.get_json()


def ask(asker, jpeg):
    """Return the Answer of both endpoints for one photo."""
    status, body = asker.post("/predict", jpeg)
    if status == 200:
        digit, confident, is_digit, error = body["digit"], body["confident"], body["is_digit"], ""
    else:
        digit, confident, is_digit = None, False, False
        error = (body or {}).get("error", {}).get("code", str(status))
    status, body = asker.post("/predict/number", jpeg)
    if status == 200:
        number, number_confident, number_error = body["number"], body["confident"], ""
    else:
        number, number_confident = "", False
        number_error = (body or {}).get("error", {}).get("code", str(status))
    return Answer(digit, confident, is_digit, error, number, number_confident, number_error)


# ---- Pictures -----------------------------------------------------------------


def digit_photos(samples, count, seed):
    """Return (label, jpeg) for `count` label-stratified measuring writers' digits."""
    measuring = [sample for sample in samples if is_measuring_writer(sample["writer"])]
    chosen = select_samples(measuring, count, seed)
    return [
        (measuring[index]["label"],
         photo_of_strokes(measuring[index]["strokes"], np.random.default_rng([seed, index])))
        for index in chosen
    ]


def blank_photos(count, seed):
    """Return (kind, jpeg) for `count` photos of paper without a digit, the kinds taken in turn."""
    return [
        (BLANK_KINDS[index % len(BLANK_KINDS)],
         blank_photo(np.random.default_rng([seed + BLANK_SEED_OFFSET, index]),
                     BLANK_KINDS[index % len(BLANK_KINDS)]))
        for index in range(count)
    ]


# ---- Reporting ----------------------------------------------------------------


def share(flags):
    flags = list(flags)
    return sum(flags) / len(flags) if flags else float("nan")


def print_digits(labels, answers):
    """Print accuracy, confident precision and share, and agreement of the two endpoints."""
    right = [answer.digit == label for label, answer in zip(labels, answers)]
    confident = [answer.confident for answer in answers]
    confident_right = [ok for ok, sure in zip(right, confident) if sure]
    number_right = [answer.number == str(label) for label, answer in zip(labels, answers)]
    agree = [answer.number == ("" if answer.digit is None else str(answer.digit)) for answer in answers]
    errors = collections.Counter(answer.error for answer in answers if answer.error)
    print(f"\nPhotos of digits by measuring writers: {len(labels)}")
    print(f"  right through /predict:              {percent(share(right))}")
    print(f"  answered confident:                  {percent(share(confident))}")
    print(f"  confident answers right:             {percent(share(confident_right))}"
          f" ({len(confident_right) - sum(confident_right)} wrong)")
    print(f"  right through /predict/number:       {percent(share(number_right))}")
    print(f"  /predict and /predict/number agree:  {percent(share(agree))}")
    if errors:
        print(f"  /predict errors: {dict(errors)}")
    print(f"\n  {'digit':>5}  {'n':>5}  {'right':>8}")
    for digit in sorted(set(labels)):
        group = [ok for label, ok in zip(labels, right) if label == digit]
        print(f"  {digit:>5}  {len(group):5d}  {percent(share(group)):>8}")
    wrong = collections.Counter(
        (label, answer.digit if answer.digit is not None else answer.error)
        for label, answer, ok in zip(labels, answers, right) if not ok
    )
    print("  most frequent confusions (true → read): "
          + ", ".join(f"{label}→{read} ×{n}" for (label, read), n in wrong.most_common(8)))


def print_blanks(kinds, answers):
    """Print how photos without a digit were answered: never a confident digit is the target."""
    print(f"\nPhotos without a digit: {len(kinds)}")
    print(f"  {'kind':>14}  {'n':>5}  {'no_ink':>8}  {'not digit':>9}  {'confident':>9}  {'number conf.':>12}")
    for kind in BLANK_KINDS + ("all",):
        group = [answer for k, answer in zip(kinds, answers) if kind in (k, "all")]
        if not group:
            continue
        no_ink = share(answer.error == "no_ink" for answer in group)
        not_digit = share(answer.error == "" and not answer.is_digit for answer in group)
        sure = sum(answer.confident for answer in group)
        number_sure = sum(answer.number_confident for answer in group)
        print(f"  {kind:>14}  {len(group):5d}  {percent(no_ink):>8}  {percent(not_digit):>9}"
              f"  {sure:9d}  {number_sure:12d}")


# ---- Command line -------------------------------------------------------------


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="base URL of a running server (default: start the Procfile's gunicorn)")
    parser.add_argument("--count", type=int, default=DEFAULT_COUNT, help="photos of digits")
    parser.add_argument("--blank", type=int, default=DEFAULT_BLANK, help="photos without a digit")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS)
    parser.add_argument("--in-process", action="store_true", help="use the app's test client, no server")
    args = parser.parse_args(argv)
    for name in ("count", "blank", "workers"):
        if getattr(args, name) < (1 if name == "workers" else 0):
            parser.error(f"--{name} must be positive, got {getattr(args, name)}")
    return args


def run(args, asker):
    samples = load_handwriting(DEFAULT_DATA_PATH)
    digits = digit_photos(samples, args.count, args.seed)
    blanks = blank_photos(args.blank, args.seed)
    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        digit_answers = list(pool.map(lambda item: ask(asker, item[1]), digits))
        blank_answers = list(pool.map(lambda item: ask(asker, item[1]), blanks))
    if digits:
        print_digits([label for label, _ in digits], digit_answers)
    if blanks:
        print_blanks([kind for kind, _ in blanks], blank_answers)


def main(argv=None):
    args = parse_args(argv)
    if args.in_process:
        run(args, InProcessAsker())
        return
    with server_url(args.url, "bench-photos") as base_url, PredictClient(base_url) as client:
        print(f"Photos → {base_url}", flush=True)
        run(args, ServerAsker(client))


if __name__ == "__main__":
    main()
