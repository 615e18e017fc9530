"""Measure how well the real server reads whole numbers, and single digits through the number reader.

Numbers of 1 to 8 digits are composed from UNIPEN digits, all by one
writer (bench.support.compose), drawn with the UNIPEN recipe's pen
(PEN_WIDTH, 18 units, as a client following the data's README draws them,
and as every earlier run of this benchmark did; the page's own, thinner pen
is measured by `bench.browser_replay --numbers`) in the three
image styles and posted to /predict/number twice: as the PNG alone, and as
JSON with the PNG and the pen strokes in its pixels, as the page sends
them. The isolated digits of the
same writers, on the page's 280×280 canvas with pens 8 to 28 units wide,
are posted to both /predict and /predict/number: the number reader must
find exactly one digit in them and read it as /predict does.

    python -m bench.numbers [--url URL] [--count N] [--isolated N]
        [--writers measuring|training] [--seed S] [--workers K] [--in-process]

Measuring writers are the default: segmentation was tuned on training
writers only. `--in-process` reads the same drawings straight through
`model.recognise.recognise_number` and the committed model, without a
server, for fast iteration.
"""

import argparse
import collections
import http.client
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np

import model
from bench.support.client import JSON_HEADERS, PredictClient, page_json
from bench.support.compose import NUMBER_LENGTHS, compose_numbers, number_png
from bench.support.drawing import STYLES, draw_png
from bench.support.samples import DEFAULT_DATA_PATH, DEFAULT_WIDTHS
from bench.support.server import server_url
from model.formatting import percent
from model.preprocess import InputImageError, digit_field, ink_from_bytes
from model.recognise import recognise_number
from model.training.handwriting import load_handwriting, split_by_writer

DEFAULT_COUNT = 800
"""Composed numbers: 100 of each length from 1 to 8."""

DEFAULT_ISOLATED = 1000
"""Isolated digits read through both endpoints."""

DEFAULT_SEED = 0
DEFAULT_WORKERS = 2
"""The machine this runs on has 2 cores, which the server needs too."""

FOUR_DIGITS = 4
"""The number length the targets are stated for."""

PNG_HEADERS = {"Content-Type": "image/png", "Accept": "application/json"}
class Reading(NamedTuple):
    """What one endpoint answered for one drawing: the digits read, or the error code."""

    text: str
    error: str


# ---- Readers: a PNG in, a Reading out -----------------------------------------


class ServerReader:
    """Post PNGs to a running server's /predict and /predict/number."""

    def __init__(self, client):
        self._client = client

    def _post(self, path, body, headers=PNG_HEADERS):
        try:
            status, body = self._client.request("POST", path, body, headers)
        except (http.client.HTTPException, OSError, ValueError) as error:
            return None, {"error": {"code": f"transport: {error!r}"}}
        return status, body

    def number(self, png, strokes=None):
        if strokes is None:
            status, body = self._post("/predict/number", png)
        else:
            status, body = self._post("/predict/number", page_json(png, strokes), JSON_HEADERS)
        if status == 200:
            return Reading(body["number"], "")
        return Reading("", body.get("error", {}).get("code", str(status)))

    def digit(self, png):
        status, body = self._post("/predict", png)
        if status == 200:
            return Reading(str(body["digit"]), "")
        return Reading("", body.get("error", {}).get("code", str(status)))


class InProcessReader:
    """Read PNGs with recognise_number and the committed model, as the server would."""

    def __init__(self, network):
        self._network = network

    def _digits(self, fields):
        return "".join(str(digit) for digit in self._network.predict_proba(fields).argmax(axis=1))

    def number(self, png, strokes=None):
        try:
            readings = recognise_number(png, self._network, strokes=strokes and [
                np.asarray(stroke, dtype=np.float64) for stroke in strokes])
        except InputImageError as error:
            return Reading("", type(error).__name__)
        return Reading("".join(str(int(reading.probabilities.argmax())) for reading in readings), "")

    def digit(self, png):
        return Reading(self._digits(digit_field(ink_from_bytes(png))[np.newaxis]), "")


# ---- Drawings -------------------------------------------------------------------


def isolated_cases(samples, count, seed):
    """Return (label, png, strokes) for `count` seeded isolated digits, styles and pen widths taken in turn."""
    rng = np.random.default_rng(seed)
    chosen = rng.permutation(len(samples))[:count]
    return [
        (str(samples[index]["label"]),
         draw_png(samples[index]["strokes"], STYLES[turn % len(STYLES)],
                  line_width=DEFAULT_WIDTHS[turn % len(DEFAULT_WIDTHS)]),
         samples[index]["strokes"])
        for turn, index in enumerate(chosen)
    ]


def read_all(read, *arguments, workers):
    """Return read(*each) for every tuple of `arguments`, `workers` at a time, in order."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(read, *arguments))


# ---- Reporting ------------------------------------------------------------------


def share(flags):
    flags = list(flags)
    return percent(sum(flags) / len(flags)) if flags else percent(float("nan"))


def print_numbers(numbers, readings):
    """Print whole-number and length accuracy, overall, by length and by touching digits."""
    right = [reading.text == number.text for number, reading in zip(numbers, readings)]
    length_right = [len(reading.text) == len(number.text) for number, reading in zip(numbers, readings)]
    errors = collections.Counter(reading.error for reading in readings if reading.error)
    print(f"\nWhole numbers right: {share(right)} of {len(numbers)}"
          f"   length right: {share(length_right)}"
          + (f"   errors: {dict(errors)}" if errors else ""))
    print(f"\n  {'':22}  {'n':>5}  {'right':>8}  {'length':>8}")
    groups = collections.defaultdict(list)
    for index, number in enumerate(numbers):
        groups[f"{len(number.text)} digits"].append(index)
        groups["touching pair" if number.has_touching else "no touching"].append(index)
        if len(number.text) == FOUR_DIGITS and not number.has_touching:
            groups["4 digits, no touching"].append(index)
    order = [f"{length} digits" for length in NUMBER_LENGTHS]
    order += ["no touching", "touching pair", "4 digits, no touching"]
    for name in order:
        members = groups.get(name, [])
        print(f"  {name:22}  {len(members):5d}  {share(right[i] for i in members):>8}"
              f"  {share(length_right[i] for i in members):>8}")
    wrong = [(number.text, reading.text or reading.error, "touching" if number.has_touching else "")
             for number, reading, ok in zip(numbers, readings, right) if not ok]
    print("\nSome misread numbers (written → read):")
    for written, read, touching in wrong[:12]:
        print(f"  {written:>10} → {read:<12} {touching}")


def print_isolated(labels, as_digit, as_number, with_strokes):
    """Print how the number reader reads isolated digits against /predict, without and with strokes."""
    one = [len(reading.text) == 1 for reading in as_number]
    digit_right = [reading.text == label for label, reading in zip(labels, as_digit)]
    number_right = [reading.text == label for label, reading in zip(labels, as_number)]
    agree = [a.text == b.text for a, b in zip(as_digit, as_number)]
    print(f"\nIsolated digits ({len(labels)}, pens {DEFAULT_WIDTHS}, styles {STYLES}):")
    print(f"  read as exactly one digit by /predict/number: {share(one)}")
    print(f"    ... with the strokes:                     {share(len(r.text) == 1 for r in with_strokes)}")
    print(f"  right through /predict:                       {share(digit_right)}")
    print(f"  right through /predict/number:                {share(number_right)}")
    print(f"  same answer from both:                        {share(agree)}")
    split = collections.Counter(reading.text for reading in as_number if len(reading.text) != 1)
    if split:
        print(f"  not one digit (read as → count): {dict(split.most_common(10))}")


# ---- Command line ---------------------------------------------------------------


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="base URL of a running server (default: start the Procfile's gunicorn)")
    parser.add_argument("--count", type=int, default=DEFAULT_COUNT, help="composed numbers")
    parser.add_argument("--isolated", type=int, default=DEFAULT_ISOLATED, help="isolated digits")
    parser.add_argument("--writers", choices=("measuring", "training"), default="measuring")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS)
    parser.add_argument("--in-process", action="store_true",
                        help="read with recognise_number and the committed model, no server")
    args = parser.parse_args(argv)
    for name in ("count", "isolated", "workers"):
        if getattr(args, name) < 0 or (name == "workers" and args.workers == 0):
            parser.error(f"--{name} must be positive, got {getattr(args, name)}")
    return args


def run(args, reader):
    training, measuring = split_by_writer(load_handwriting(DEFAULT_DATA_PATH))
    samples = measuring if args.writers == "measuring" else training
    numbers = compose_numbers(samples, args.count, args.seed)
    print(f"{len(numbers)} composed numbers and {args.isolated} isolated digits"
          f" by {args.writers} writers (seed {args.seed})", flush=True)
    pngs = [number_png(number) for number in numbers]
    print("\n== Posted as PNG, without strokes ==")
    print_numbers(numbers, read_all(reader.number, pngs, workers=args.workers))
    print("\n== Posted as the page posts them: the PNG and its strokes ==")
    print_numbers(numbers, read_all(reader.number, pngs, [n.strokes for n in numbers],
                                    workers=args.workers))
    cases = isolated_cases(samples, args.isolated, args.seed)
    labels, pngs, strokes = zip(*cases) if cases else ((), (), ())
    print_isolated(labels, read_all(reader.digit, pngs, workers=args.workers),
                   read_all(reader.number, pngs, workers=args.workers),
                   read_all(reader.number, pngs, strokes, workers=args.workers))


def main(argv=None):
    args = parse_args(argv)
    if args.in_process:
        run(args, InProcessReader(model.load()))
        return
    with server_url(args.url, "bench-numbers") as base_url, PredictClient(base_url) as client:
        print(f"Server {base_url}, model {client.model_version()}")
        run(args, ServerReader(client))


if __name__ == "__main__":
    main()
