"""Put the real server under a realistic mix of requests, and fail if anything breaks.

    python -m bench.load [--seconds 30] [--concurrency 1,8,32,64] [--warmup S]
        [--seed S] [--json PATH] [--database URL]

The Procfile's gunicorn, with the production gunicorn.conf.py, gets a mix
of requests from keep-alive clients (bench.support.closed_loop), 110 prepared requests
shuffled and sent in turn:

- 70 valid drawings of the ten digits, varied in size, place, tilt and pen
  width: 50 posted as forms with a transparent PNG, 10 as raw image/png
  bodies and 10 as JSON data URLs, in the three styles; they must be
  answered 200.
- 10 numbers of 2 to 5 digits to POST /predict/number, in the three
  styles and varied pen widths, 4 as raw image/png bodies, 4 as the page
  sends them (JSON, the PNG and its pen strokes) and 2 as forms (one with
  the strokes in its field): 200.
- 10 blank canvases (transparent, white, black), 2 of them to
  /predict/number: 422.
- 10 garbage bodies (random bytes, a truncated PNG, a text file in the form,
  malformed JSON, bad base64, strokes that are not lists of points): 400.
- 10 hostile drawings of thousands of marks (bench.support.hostile: noise,
  a dot grid, hatching, a zigzag, confetti, specks around a 7; the smaller
  size of each) to /predict: 200; and a dot grid to /predict/number: 422.
- 10 corrections of drawn digits to POST /corrections, as the page sends
  them (JSON with the PNG and its strokes): 201. They go to --database (by
  default a SQLite file in a temporary folder; CORRECTIONS_PER_MINUTE is
  lifted, every client here being 127.0.0.1), and at the end the rows
  stored must equal the 201 answers.

Each level prints its status counts, connection errors, 5xx, latency
percentiles, throughput and the workers' RSS after it. The warm-up runs at
the highest concurrency asked for, so that every worker thread has handled
every kind of request before the baseline memory reading: the allocator's
per-thread arenas grow to their working size then, and that is not a leak.
The exit status is 1 if any request got a connection error, a 5xx or a
status other than its kind's, if a worker was restarted, if a worker's
RSS after the last level is more than 10% above its RSS after the warm-up,
or if the corrections stored are not the corrections answered 201.
"""

import argparse
import base64
import collections
import json
import os
import runpy
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from app.storage import Storage, sqlite_url
from bench.support.closed_loop import parse_levels, run_level
from bench.support.digits import DIGIT_STROKES, digit_png, number_png, number_strokes
from bench.support.drawing import CANVAS_SIZE, STYLES, encode_image
from bench.support.hostile import HOSTILE_CLASSES, HOSTILE_SIZES, dot_grid
from bench.support.http import Request, http_request, multipart_request
from bench.support.processes import MIB, child_pids, process_memory, wait_for_workers
from bench.support.server import PROJECT_ROOT, ProcfileServer, seconds_to_first_answer
from bench.support.tables import format_table
from model.constants import MAX_INTENSITY, N_CLASSES

DEFAULT_SECONDS = 30
DEFAULT_LEVELS = (1, 8, 32, 64)
DEFAULT_WARMUP_S = 3.0
DEFAULT_SEED = 0

MAX_RSS_GROWTH = 0.10
"""A worker's RSS after the load may exceed its RSS after the warm-up by this fraction at most."""

LINE_WIDTHS = (8, 13, 18, 23, 28)
"""Pen widths in canvas pixels: thin stylus to thick finger."""

GARBAGE_BYTES = 2048
LOG_TAIL_LINES = 30

OK, CREATED, BAD_REQUEST, UNPROCESSABLE = 200, 201, 400, 422

DIGIT_PATH = "/predict"
NUMBER_PATH = "/predict/number"
CORRECTIONS_PATH = "/corrections"

UNLIMITED_CORRECTIONS = str(10**9)
"""CORRECTIONS_PER_MINUTE for the run: every load client is the same address."""

NUMBER_LENGTHS = (2, 3, 4, 5)
"""Lengths of the numbers in the mix, taken in turn."""


# ---- The mix ------------------------------------------------------------------


def data_url(png):
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def json_request(payload_text, path=DIGIT_PATH):
    return http_request("POST", path, payload_text.encode("utf-8"), "application/json")


def raw_png_request(png, path=DIGIT_PATH):
    return http_request("POST", path, png, "image/png")


def valid_requests(rng):
    """Return 70 requests carrying drawings of varied digits, as the page and API clients send them."""
    requests = []
    for i in range(50):
        png = digit_png(i % N_CLASSES, "transparent", LINE_WIDTHS[i % len(LINE_WIDTHS)], rng)
        requests.append(Request("valid", multipart_request(DIGIT_PATH, png), OK, fresh_boundary=True))
    for i in range(10):
        png = digit_png(i, STYLES[i % len(STYLES)], LINE_WIDTHS[(i + 1) % len(LINE_WIDTHS)], rng)
        requests.append(Request("valid", raw_png_request(png), OK))
    for i in range(10):
        png = digit_png(i, STYLES[(i + 1) % len(STYLES)], LINE_WIDTHS[(i + 2) % len(LINE_WIDTHS)], rng)
        requests.append(Request("valid", json_request(json.dumps({"image": data_url(png)})), OK))
    return requests


def number_requests(rng):
    """Return 10 requests carrying numbers of a few digits to /predict/number, some with their strokes."""
    requests = []
    for i in range(10):
        digits = "".join(str(digit) for digit in rng.integers(0, N_CLASSES, NUMBER_LENGTHS[i % len(NUMBER_LENGTHS)]))
        png = number_png(digits, STYLES[i % len(STYLES)], LINE_WIDTHS[i % len(LINE_WIDTHS)])
        strokes = json.dumps(number_strokes(digits)[0])
        if i < 4:
            requests.append(Request("number", raw_png_request(png, NUMBER_PATH), OK))
        elif i < 8:
            payload = '{"image": "%s", "strokes": %s}' % (data_url(png), strokes)
            requests.append(Request("number", json_request(payload, NUMBER_PATH), OK))
        else:
            fields = {"strokes": strokes} if i == 9 else {}
            requests.append(Request("number", multipart_request(NUMBER_PATH, png, fields=fields), OK,
                                    fresh_boundary=True))
    return requests


def blank_requests():
    """Return 10 requests carrying empty canvases, which have no ink to recognise."""
    transparent = encode_image(Image.new("RGBA", CANVAS_SIZE, (0, 0, 0, 0)))
    white = encode_image(Image.new("RGB", CANVAS_SIZE, (MAX_INTENSITY, MAX_INTENSITY, MAX_INTENSITY)))
    black = encode_image(Image.new("L", CANVAS_SIZE, 0))
    requests = [Request("blank", multipart_request(DIGIT_PATH, transparent), UNPROCESSABLE, True)] * 4
    requests += [Request("blank", raw_png_request(transparent, NUMBER_PATH), UNPROCESSABLE)] * 2
    requests += [Request("blank", raw_png_request(white), UNPROCESSABLE)] * 2
    requests += [Request("blank", json_request(json.dumps({"image": data_url(black)})), UNPROCESSABLE)] * 2
    return requests


def garbage_requests(rng):
    """Return 10 requests whose bodies are no image at all, or not valid JSON."""
    random_bytes = rng.bytes(GARBAGE_BYTES)
    png = digit_png(7)
    truncated = png[: len(png) // 2]
    requests = [Request("garbage", raw_png_request(random_bytes), BAD_REQUEST)] * 2
    not_points = json.dumps({"image": data_url(png), "strokes": [[1, 2], [3, 4]]})
    requests += [Request("garbage", json_request(not_points, NUMBER_PATH), BAD_REQUEST)]
    requests += [Request("garbage", raw_png_request(truncated), BAD_REQUEST)] * 2
    requests += [
        Request("garbage", multipart_request(DIGIT_PATH, b"not an image\n" * 20, "notes.txt", "text/plain"),
                BAD_REQUEST, True)
    ] * 2
    requests += [Request("garbage", json_request('{"image": "data:image/png;base64,'), BAD_REQUEST)] * 2
    requests += [Request("garbage", json_request(json.dumps({"image": "%%% not base64 %%%"})), BAD_REQUEST)]
    return requests


def hostile_requests():
    """Return 10 requests carrying drawings of thousands of marks (bench.support.hostile, at their smaller size).

    /predict reads each class as one digit; /predict/number refuses a dot grid as too many digits.
    """
    requests = [Request("hostile", raw_png_request(make(min(HOSTILE_SIZES[name]))), OK)
                for name, make in HOSTILE_CLASSES.items()]
    requests.append(Request("hostile", raw_png_request(dot_grid(min(HOSTILE_SIZES["dot_grid"])), NUMBER_PATH),
                            UNPROCESSABLE))
    return requests


def correction_requests():
    """Return 10 corrections of drawn digits, with their strokes, as the page sends them."""
    requests = []
    for digit in range(N_CLASSES):
        body = {"image": data_url(digit_png(digit)), "strokes": DIGIT_STROKES[digit], "answer": str(digit),
                "model": "bench-load", "label": str((digit + 1) % N_CLASSES)}
        raw = http_request("POST", CORRECTIONS_PATH, json.dumps(body).encode("utf-8"), "application/json")
        requests.append(Request("correction", raw, CREATED))
    return requests


def request_mix(seed=DEFAULT_SEED):
    """Return the 110 requests of the mix, shuffled with `seed`."""
    rng = np.random.default_rng(seed)
    requests = (valid_requests(rng) + number_requests(rng) + blank_requests() + garbage_requests(rng)
                + hostile_requests()
                + correction_requests())
    order = rng.permutation(len(requests))
    return [requests[i] for i in order]


# ---- Running ------------------------------------------------------------------


def memory_of(pids):
    return {pid: process_memory(pid) for pid in pids}


def rss_growth(before, after):
    """Return {pid: fractional RSS growth} of the workers present in both readings."""
    return {pid: after[pid]["rss"] / before[pid]["rss"] - 1 for pid in before if pid in after}


def print_levels(results, rss_after):
    header = (
        "clients", "requests", "req/s", "p50 ms", "p90 ms", "p99 ms", "valid p99", "number p99",
        "200", "201", "400", "422", "other", "5xx", "conn err", "unexpected", "server CPU ms/req", "client CPU %",
        "workers RSS MiB",
    )
    rows = []
    for result, rss in zip(results, rss_after):
        counts = result.status_counts()
        other = sum(count for status, count in counts.items()
                    if status not in {OK, CREATED, BAD_REQUEST, UNPROCESSABLE})
        p50, p90, p99 = result.latency_ms()
        rows.append((
            result.concurrency, result.n_requests, f"{result.throughput:.0f}",
            f"{p50:.1f}", f"{p90:.1f}", f"{p99:.1f}", f"{result.latency_ms({'valid'})[2]:.1f}",
            f"{result.latency_ms({'number'})[2]:.1f}",
            counts[OK], counts[CREATED], counts[BAD_REQUEST], counts[UNPROCESSABLE], other,
            result.server_errors, result.connection_errors, sum(result.unexpected.values()),
            f"{result.server_cpu_per_request_ms():.2f}", f"{100 * result.client_cpu_s / result.seconds:.0f}",
            " ".join(f"{value / MIB:.1f}" for value in rss),
        ))
    print(format_table(header, rows))


def print_memory(readings, workers):
    rows = []
    for pid in workers:
        row = [pid]
        for reading in readings.values():
            memory = reading.get(pid)
            row += [f"{memory['rss'] / MIB:.1f}", f"{memory['pss'] / MIB:.1f}" if memory["pss"] else "–"]
        rows.append(row)
    header = ["worker"] + [f"{label} {kind}" for label in readings for kind in ("RSS", "PSS")]
    print("\nWorker memory (MiB)")
    print(format_table(header, rows))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=DEFAULT_SECONDS, help="seconds per level")
    parser.add_argument("--concurrency", type=parse_levels, default=DEFAULT_LEVELS, help="e.g. 1,8,32,64")
    parser.add_argument("--warmup", type=float, default=DEFAULT_WARMUP_S, help="seconds of warm-up load")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of the drawings and their order")
    parser.add_argument("--json", type=Path, help="save the figures to this file")
    parser.add_argument("--database", help="DATABASE_URL for the corrections (default: SQLite in a temporary folder)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    mix = request_mix(args.seed)
    kinds = collections.Counter(request.kind for request in mix)
    n_workers = runpy.run_path(str(PROJECT_ROOT / "gunicorn.conf.py"))["workers"]
    print(f"bench.load: {dict(kinds)} requests in the mix, {n_workers} gunicorn workers, "
          f"{os.cpu_count()} CPUs, load average " + " ".join(f"{v:.2f}" for v in os.getloadavg()))

    problems = []
    with tempfile.TemporaryDirectory(prefix="bench-load-") as log_dir:
        database = args.database or sqlite_url(Path(log_dir) / "corrections.sqlite3")
        storage = Storage(database)
        storage.migrate()
        rows_before = storage.count()
        server = ProcfileServer(Path(log_dir) / "gunicorn.log",
                                {"DATABASE_URL": database, "CORRECTIONS_PER_MINUTE": UNLIMITED_CORRECTIONS})
        try:
            startup_s = seconds_to_first_answer(server)
            master = server.process.pid
            workers = wait_for_workers(master, n_workers)
            pids = [master, *workers]
            readings = {"start": memory_of(workers)}
            warmup_clients = max(args.concurrency)
            warmup = run_level(server.base_url, mix, warmup_clients, args.warmup, server_pids=pids)
            readings["warm"] = memory_of(workers)
            results, rss_after = [], []
            for concurrency in args.concurrency:
                results.append(run_level(server.base_url, mix, concurrency, args.seconds, server_pids=pids))
                rss_after.append([process_memory(pid)["rss"] for pid in workers])
                print(f"  {concurrency} clients: {results[-1].throughput:.0f} req/s", file=sys.stderr, flush=True)
            readings["end"] = memory_of(workers)
            restarted = child_pids(master) != workers
            log_tail = server.log().splitlines()[-LOG_TAIL_LINES:]
        finally:
            server.stop()
        rows_stored = storage.count() - rows_before

    print(f"\nServer up and answering {startup_s:.2f} s after start; warm-up {warmup.n_requests} requests "
          f"at {warmup_clients} clients")
    print_levels(results, rss_after)
    print_memory(readings, workers)

    for result in [warmup, *results]:
        label = "warm-up" if result is warmup else f"{result.concurrency} clients"
        if result.connection_errors:
            problems.append(f"{label}: {result.connection_errors} connection errors")
        if result.server_errors:
            problems.append(f"{label}: {result.server_errors} answers 5xx")
        if result.unexpected:
            problems.append(f"{label}: unexpected statuses {dict(result.unexpected)}")
        for key, example in result.examples.items():
            print(f"  {label}, first {key}: {example!r}")
    created = sum(result.status_counts()[CREATED] for result in [warmup, *results])
    print(f"\nCorrections: {created} answered 201, {rows_stored} rows stored")
    if rows_stored != created:
        problems.append(f"{created} corrections answered 201 but {rows_stored} rows stored")
    growth = rss_growth(readings["warm"], readings["end"])
    for pid, fraction in growth.items():
        print(f"  worker {pid}: RSS {fraction:+.1%} from after the warm-up to the end")
        if fraction > MAX_RSS_GROWTH:
            problems.append(f"worker {pid}: RSS grew {fraction:.1%} (limit {MAX_RSS_GROWTH:.0%})")
    if restarted:
        problems.append("gunicorn's workers changed during the run (a worker died or timed out)")

    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "arguments": {**vars(args), "json": str(args.json)},
            "mix": dict(kinds),
            "workers": n_workers,
            "startup_s": startup_s,
            "warmup": warmup.summary(),
            "levels": [result.summary() for result in results],
            "memory": {label: {str(pid): m for pid, m in reading.items()} for label, reading in readings.items()},
            "rss_growth": {str(pid): fraction for pid, fraction in growth.items()},
            "corrections": {"created": created, "rows_stored": rows_stored},
            "problems": problems,
        }, indent=2) + "\n")
        print(f"\nFigures saved to {args.json}")

    if problems:
        print("\nFAILED:\n  " + "\n  ".join(problems))
        print("Last lines of the server's log:\n  " + "\n  ".join(log_tail))
        return 1
    print("\nOK: no connection error, no 5xx, every status as expected, every correction stored, memory steady")
    return 0


if __name__ == "__main__":
    sys.exit(main())
