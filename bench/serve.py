"""How fast the server answers what the page sends, from one stage in process to the real gunicorn under load.

    python -m bench.serve [--seconds S] [--concurrency 1,8,32] [--rounds R] [--stage-seconds S]
        [--warmup S] [--baseline REV] [--memory-requests N] [--install-size metadata|venv]
        [--profile N] [--json PATH]

The request measured is the page's own: a digit is drawn on the page with
pointer input in headless Chromium (Debian's, bench.support.chromium) and
the request the page then sends to the API is recorded (method, URL with
its query, headers, body; bench.page_request) and replayed, whatever form
it takes. One run prints:

- In process: median and p99 of each stage for the image the page sends:
  `ink_from_bytes`, each of `DIGIT_FIELD_STEPS` (model.preprocess's own
  list, so a new step shows up here by itself), the forward pass and the
  JSON answer; then whole requests through Flask's test client (the page's
  request, and a full 280×280 canvas PNG posted as a form, as curl users
  do). BLAS runs on one thread, as gunicorn.conf.py sets.
- Decoding: `ink_from_bytes` on the page's image against a full 280×280
  canvas PNG, in alternating rounds.
- A number: a 4-digit number through POST /predict/number against one
  digit through /predict, server time in process, alternating rounds
  (when the app has that endpoint).
- Start-up: create_app() with the model load, in a fresh interpreter, and
  the time from starting gunicorn to its first answer.
- Over HTTP: the Procfile's gunicorn with the production gunicorn.conf.py,
  once serving the app and once serving bench.bare_app (a constant JSON
  answer, same server settings), both sent the page's request by 1, 8, 32
  keep-alive clients, alternating in `--rounds` rounds per level; with
  `--baseline REV`, that revision is checked out beside (git worktree),
  served by its own Procfile gunicorn, and both apps are sent a full
  280×280 canvas PNG as a form in the same alternating rounds. Throughput,
  p50/p90/p99 latency, the server's and the client's CPU per request, and
  the ratios of throughput.
- Memory: RSS and PSS of gunicorn's master and each worker after warm-up
  and after `--memory-requests` requests, their total for the default
  worker count, and the headroom on a 512 MB dyno.
- Install size of requirements.txt.

The targets (the page's request at ≥ 0.35 of bare's throughput at 8
clients; p99 at 32 clients under 50 ms; the canvas form no slower than the
baseline; a 4-digit number under 3× a digit's server time) are marked met
or missed; the exit status is 0 either way. Figures from a machine that is
busy with something else are noisy: the header shows the load average.
``--profile N`` adds a cProfile of N in-process page requests. Needs
threadpoolctl (bench/requirements.txt) and Chromium.
"""

import argparse
import contextlib
import cProfile
import importlib.metadata
import io
import json
import os
import platform
import pstats
import runpy
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import venv
from pathlib import Path
from typing import NamedTuple

import numpy as np
from flask import jsonify
from packaging.requirements import Requirement
from PIL import Image
from threadpoolctl import threadpool_limits

from app import create_app
from app.api import MODEL_KEY, PREVIEW_FLAG_VALUES, reading_body
from bench.bare_app import BARE_APP_SPEC, BARE_PATH
from bench.loadgen import (
    BOUNDARY_TEMPLATE,
    DIGIT_STROKES,
    MIB,
    PERCENTILES,
    Request,
    child_pids,
    combined,
    digit_png,
    format_table,
    fresh_boundary,
    multipart_body,
    multipart_request,
    number_png,
    parse_levels,
    process_memory,
    run_level,
    seconds_to_first_answer,
    wait_for_workers,
)
from bench.page_request import capture_page_request, image_of, replay_request, templated
from bench.support.chromium import CHROMIUM_PATH
from bench.support.server import PROJECT_ROOT, ProcfileServer
from model.preprocess import DIGIT_FIELD_STEPS, crop_box, ink_from_bytes
from model.recognise import DigitReading
from model.segment import find_digits

DEFAULT_SECONDS = 10
DEFAULT_ROUNDS = 3
"""Each level alternates the servers in this many rounds, so that a slow spell of the machine hits all of them."""
DEFAULT_STAGE_SECONDS = 1.0
DEFAULT_WARMUP_S = 2.0
DEFAULT_LEVELS = (1, 8, 32)
DEFAULT_MEMORY_REQUESTS = 10_000
STARTUP_REPEATS = 3
MIN_STAGE_RUNS = 20

BENCH_DIGIT = 5
"""The digit drawn on the page and on the canvas PNG: strokes and a curve."""

BENCH_NUMBER = "4271"
"""The 4-digit number timed through /predict/number."""

NUMBER_PATH = "/predict/number"
DIGIT_PATH = "/predict"

DYNO_MEMORY = 512 * MIB
"""Memory of a Heroku basic dyno (Heroku's "512 MB" are MiB)."""

TARGET_RATIO = 0.35
TARGET_RATIO_LEVELS = (8,)
TARGET_P99_MS = 50
TARGET_P99_LEVEL = 32
TARGET_NUMBER_RATIO = 3.0
"""A 4-digit number must take less than this many times a single digit's server time."""

PAGE, BARE, CANVAS, BASELINE = "page → app", "page → bare", "canvas form → app", "canvas form → baseline"
"""The HTTP loads: which request goes to which server."""

COMPARISONS = (
    (PAGE, BARE, "the page's request: app / bare"),
    (CANVAS, BASELINE, "a 280×280 canvas form: app / baseline (after / before)"),
)
"""Throughput ratios printed, when both loads ran."""

CREATE_APP_SCRIPT = """
import json, os, time
for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(variable, "1")
started = time.perf_counter()
import app
imported = time.perf_counter()
application = app.create_app()
created = time.perf_counter()
import model
model.load(application.config["MODEL_PATH"])
loaded = time.perf_counter()
print(json.dumps({"import_s": imported - started, "create_app_s": created - imported,
                  "model_load_s": loaded - created}))
"""
"""Run in a fresh interpreter: the imports are part of what a new worker pays."""


# ---- In process -----------------------------------------------------------


def time_calls(function, seconds, min_runs=MIN_STAGE_RUNS):
    """Call `function` for `seconds` (and at least `min_runs` times).

    Returns (wall times, CPU times of this thread), in seconds: on a shared
    machine the CPU time is the steadier figure, the wall time what a
    request waits.
    """
    wall, cpu = [], []
    deadline = time.perf_counter() + seconds
    while len(wall) < min_runs or time.perf_counter() < deadline:
        started, started_cpu = time.perf_counter_ns(), time.thread_time_ns()
        function()
        wall.append(time.perf_counter_ns() - started)
        cpu.append(time.thread_time_ns() - started_cpu)
    return np.array(wall) / 1e9, np.array(cpu) / 1e9


def time_alternating(functions, seconds, rounds=DEFAULT_ROUNDS):
    """Time each of {name: function} for `seconds` in all, taking turns in `rounds` rounds.

    Returns {name: (wall times, CPU times)}, the rounds put together.
    """
    times = {name: ([], []) for name in functions}
    for _ in range(rounds):
        for name, function in functions.items():
            wall, cpu = time_calls(function, seconds / rounds, max(MIN_STAGE_RUNS // rounds, 1))
            times[name][0].append(wall)
            times[name][1].append(cpu)
    return {name: (np.concatenate(wall), np.concatenate(cpu)) for name, (wall, cpu) in times.items()}


DIGIT_FIELD = "digit_field (its steps together)"
INK = "ink_from_bytes"
ALL_STAGES = "all stages (sum per run)"


def pipeline_steps(app, with_preview):
    """Return the steps of /predict as (name, function of the previous step's output), bytes first.

    Preprocessing is model.preprocess's own definition: `ink_from_bytes`,
    then each of `DIGIT_FIELD_STEPS` in order. /predict also segments the
    ink (find_digits, to flag several digits), a step that passes the ink
    on unchanged here; then come the network and the JSON answer.
    """
    model = app.extensions[MODEL_KEY]
    max_digits = app.config["MAX_DIGITS"]
    box = None

    def segment(ink):
        nonlocal box
        box = crop_box(ink)
        find_digits(ink, model.predict_proba, max_digits)
        return ink

    def forward(field):
        prediction = model.recognise(field[np.newaxis])
        return DigitReading(box, field, prediction.probabilities[0], bool(prediction.is_digit[0]))

    def answer_json(reading):
        with app.app_context():
            return jsonify({**reading_body(reading, with_preview), "model": model.version}).get_data()

    field_steps = [(f"  {number}. {step.__name__}", step) for number, step in enumerate(DIGIT_FIELD_STEPS, start=1)]
    return [
        (INK, ink_from_bytes),
        ("find_digits (several digits?)", segment),
        *field_steps,
        ("forward pass (one field)", forward),
        ("JSON (answer dict + jsonify)", answer_json),
    ]


def asks_preview(target):
    """Return whether a request target ("/predict?preview=1") asks for the network's input in the answer."""
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(target).query)
    return query.get("preview", [""])[0].lower() in PREVIEW_FLAG_VALUES


def time_pipeline(steps, data, seconds, min_runs=MIN_STAGE_RUNS):
    """Run the whole chain again and again, timing each step where it runs; return {name: (wall, cpu)}.

    Inside the chain each step finds the caches as a request leaves them:
    the network's weights, for one, are no longer in cache after decoding,
    so its time here is several times its time alone.
    """
    wall = {name: [] for name, _ in steps}
    cpu = {name: [] for name, _ in steps}
    deadline = time.perf_counter() + seconds
    runs = 0
    while runs < min_runs or time.perf_counter() < deadline:
        value = data
        for name, step in steps:
            started, started_cpu = time.perf_counter_ns(), time.thread_time_ns()
            value = step(value)
            wall[name].append(time.perf_counter_ns() - started)
            cpu[name].append(time.thread_time_ns() - started_cpu)
        runs += 1
    return {name: (np.array(wall[name]) / 1e9, np.array(cpu[name]) / 1e9) for name, _ in steps}


def time_alone(steps, data, seconds):
    """Time each step on its own, over and over on the same input (warm caches)."""
    inputs, value = [], data
    for _, step in steps:
        inputs.append(value)
        value = step(value)
    share = seconds / len(steps)
    return {
        name: time_calls(lambda step=step, value=value: step(value), share)
        for (name, step), value in zip(steps, inputs)
    }


def page_poster(client, captured):
    """Return a function that sends the captured page request through a Flask test client."""
    headers, body, fresh = templated(captured)

    def post():
        boundary = fresh_boundary()
        sent_headers = dict(headers)
        sent_body = body
        if fresh:
            sent_headers["content-type"] = headers["content-type"].replace(BOUNDARY_TEMPLATE.decode(), boundary.decode())
            sent_body = body.replace(BOUNDARY_TEMPLATE, boundary)
        response = client.open(captured.target, method=captured.method, headers=sent_headers, data=sent_body)
        assert response.status_code == captured.status, response.get_data(as_text=True)

    return post


def form_poster(client, path, png):
    """Return a function that posts `png` to `path` as a form through a Flask test client, as curl does."""
    form_body, form_type = multipart_body(png)

    def post():
        boundary = fresh_boundary()
        response = client.post(
            path,
            data=form_body.replace(BOUNDARY_TEMPLATE, boundary),
            content_type=form_type.replace(BOUNDARY_TEMPLATE.decode(), boundary.decode()),
        )
        assert response.status_code == 200, response.get_data(as_text=True)

    return post


def in_process_stages(app, captured, canvas_png, seconds):
    """Time each stage for the page's image in the chain and alone, then whole requests; return {name: figures}."""
    steps = pipeline_steps(app, asks_preview(captured.target))
    data = image_of(captured)
    in_chain = time_pipeline(steps, data, seconds)
    alone = time_alone(steps, data, seconds)
    names = [name for name, _ in steps]
    first = names.index(f"  1. {DIGIT_FIELD_STEPS[0].__name__}")
    grouped = names[first : first + len(DIGIT_FIELD_STEPS)]
    in_chain[DIGIT_FIELD] = tuple(sum(in_chain[name][i] for name in grouped) for i in range(2))
    in_chain[ALL_STAGES] = tuple(sum(in_chain[name][i] for name in names) for i in range(2))
    order = [*names[:first], DIGIT_FIELD, *grouped, *names[first + len(DIGIT_FIELD_STEPS) :], ALL_STAGES]

    client = app.test_client()
    extra = {
        f"page's request via test client: {captured.method} {captured.target}": time_calls(
            page_poster(client, captured), seconds
        ),
        f"{DIGIT_PATH} via test client, 280×280 canvas form": time_calls(form_poster(client, DIGIT_PATH, canvas_png), seconds),
    }
    figures = {}
    for name in order:
        figures[name] = stage_figures(in_chain[name])
        if name in alone:
            figures[name]["alone_median_ms"] = float(np.median(alone[name][0]) * 1000)
    figures.update({name: stage_figures(times) for name, times in extra.items()})
    return figures


def stage_figures(times):
    wall, cpu = times
    return {
        "median_ms": float(np.median(wall) * 1000),
        "p99_ms": float(np.percentile(wall, 99) * 1000),
        "cpu_median_ms": float(np.median(cpu) * 1000),
        "runs": len(wall),
    }


def print_stages(stages, captured, page_image):
    print(
        f"\nIn process: the page's image ({image_description(page_image)}, sent as {captured.describe()}), "
        "BLAS on 1 thread.\nStages timed where they run in the chain; 'alone' repeats one stage on warm caches."
    )
    rows = [
        (
            name, f"{figures['median_ms']:.3f}", f"{figures['p99_ms']:.3f}", f"{figures['cpu_median_ms']:.3f}",
            f"{figures['alone_median_ms']:.3f}" if "alone_median_ms" in figures else "", figures["runs"],
        )
        for name, figures in stages.items()
    ]
    print(format_table(("stage", "median ms", "p99 ms", "CPU median ms", "alone ms", "runs"), rows))


def image_description(data):
    """Return e.g. "PNG 120×140 RGBA, 2,345 bytes"."""
    with Image.open(io.BytesIO(data)) as image:
        return f"{image.format} {image.width}×{image.height} {image.mode}, {len(data):,} bytes"


def compare_in_process(functions, seconds, rounds):
    """Time {name: function} in alternating rounds; return {name: figures} and the ratio of the first to the second."""
    times = time_alternating(functions, seconds, rounds)
    figures = {name: stage_figures(value) for name, value in times.items()}
    first, second = (figures[name] for name in functions)
    figures["ratio_median"] = first["median_ms"] / second["median_ms"]
    figures["ratio_cpu_median"] = first["cpu_median_ms"] / second["cpu_median_ms"]
    return figures


def print_comparison(title, figures, names):
    print(f"\n{title}")
    rows = [
        (name, f"{figures[name]['median_ms']:.3f}", f"{figures[name]['p99_ms']:.3f}",
         f"{figures[name]['cpu_median_ms']:.3f}", figures[name]["runs"])
        for name in names
    ]
    rows.append((f"ratio {names[0].split(':')[0]} / {names[1].split(':')[0]}", f"{figures['ratio_median']:.3f}", "",
                 f"{figures['ratio_cpu_median']:.3f}", ""))
    print(format_table(("", "median ms", "p99 ms", "CPU median ms", "runs"), rows))


def decode_comparison(page_image, canvas_png, seconds, rounds):
    """Time ink_from_bytes on the page's image and on a full canvas PNG, alternating; return the figures."""
    names = (f"page: {image_description(page_image)}", f"canvas: {image_description(canvas_png)}")
    functions = {names[0]: lambda: ink_from_bytes(page_image), names[1]: lambda: ink_from_bytes(canvas_png)}
    figures = compare_in_process(functions, seconds, rounds)
    print_comparison("Decoding (ink_from_bytes), in alternating rounds: what the page sends / a 280×280 canvas PNG",
                     figures, names)
    return figures


def serves(app, path, method="POST"):
    """Return whether the app has a route for `method` on `path`."""
    adapter = app.url_map.bind("localhost")
    return adapter.test(path, method=method)


def number_comparison(app, seconds, rounds):
    """Time a 4-digit number through /predict/number and a digit through /predict; return the figures, or None."""
    if not serves(app, NUMBER_PATH):
        print(f"\nA number: the app has no POST {NUMBER_PATH} yet; skipped")
        return None
    client = app.test_client()
    number, digit = number_png(BENCH_NUMBER), digit_png(BENCH_DIGIT)
    read = client.post(NUMBER_PATH, data=number, content_type="image/png")
    assert read.status_code == 200, read.get_data(as_text=True)

    def post_number():
        response = client.post(NUMBER_PATH, data=number, content_type="image/png")
        assert response.status_code == 200, response.get_data(as_text=True)

    def post_digit():
        response = client.post(DIGIT_PATH, data=digit, content_type="image/png")
        assert response.status_code == 200, response.get_data(as_text=True)

    names = (f"number: {NUMBER_PATH}, {BENCH_NUMBER!r} ({image_description(number)})",
             f"digit: {DIGIT_PATH}, a {BENCH_DIGIT} ({image_description(digit)})")
    figures = compare_in_process({names[0]: post_number, names[1]: post_digit}, seconds, rounds)
    figures["number_read"] = read.get_json()["number"]
    print_comparison(
        f"A number through the test client (raw image/png), alternating rounds; {BENCH_NUMBER!r} read as "
        f"{figures['number_read']!r}", figures, names,
    )
    return figures


def profile_predict(app, captured, n_requests, limit=20):
    """Print where the in-process page request spends its time, by own time and by cumulative time."""
    post = page_poster(app.test_client(), captured)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(n_requests):
        post()
    profiler.disable()
    print(f"\ncProfile of {n_requests} page requests through the test client (profiler overhead included)")
    stats = pstats.Stats(profiler, stream=sys.stdout)
    stats.sort_stats("tottime").print_stats(limit)
    stats.sort_stats("cumulative").print_stats(r"app/|model/|formparser|multipart", limit)


# ---- Start-up -------------------------------------------------------------


def create_app_times(repeats=STARTUP_REPEATS):
    """Time import, create_app() and the model load in fresh interpreters; return the medians."""
    runs = []
    for _ in range(repeats):
        completed = subprocess.run(
            [sys.executable, "-c", CREATE_APP_SCRIPT],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        runs.append(json.loads(completed.stdout.strip().splitlines()[-1]))
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]} | {"repeats": repeats}


# ---- Over HTTP --------------------------------------------------------------


class Served:
    """A started ProcfileServer with its process ids and start-up time."""

    def __init__(self, name, log_dir, app_spec=None, root=PROJECT_ROOT):
        self.name = name
        self.server = ProcfileServer(Path(log_dir) / f"{name}.log", app_spec=app_spec, root=root)
        self.first_answer_s = seconds_to_first_answer(self.server)
        self.master = self.server.process.pid
        self.workers = wait_for_workers(self.master, default_worker_count(root))

    @property
    def base_url(self):
        return self.server.base_url

    @property
    def pids(self):
        return [self.master, *self.workers]

    def memory(self):
        return {
            "master": {"pid": self.master, **process_memory(self.master)},
            "workers": [{"pid": pid, **process_memory(pid)} for pid in self.workers],
        }

    def restarted(self):
        """Return whether the workers are no longer the ones that started."""
        return child_pids(self.master) != self.workers

    def stop(self):
        self.server.stop()


def default_worker_count(root=PROJECT_ROOT):
    """Return the worker count the project's gunicorn.conf.py gives when WEB_CONCURRENCY is not set here."""
    return runpy.run_path(str(Path(root) / "gunicorn.conf.py"))["workers"]


@contextlib.contextmanager
def baseline_checkout(revision):
    """Check `revision` out into a temporary git worktree; yield its folder, and remove it afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="bench-baseline-"))
    checkout = folder / "checkout"
    git = ["git", "-C", str(PROJECT_ROOT)]
    subprocess.run([*git, "worktree", "add", "--detach", "--quiet", str(checkout), revision], check=True)
    try:
        yield checkout
    finally:
        subprocess.run([*git, "worktree", "remove", "--force", str(checkout)], check=False)
        shutil.rmtree(folder, ignore_errors=True)


def describe_revision(revision):
    """Return "<short hash> <subject>" of a revision."""
    completed = subprocess.run(
        ["git", "-C", str(PROJECT_ROOT), "log", "-1", "--format=%h %s", revision],
        capture_output=True, text=True, check=True,
    )
    return completed.stdout.strip()


class Load(NamedTuple):
    """One request sent again and again to one server."""

    name: str
    served: Served
    request: Request


def http_levels(loads, levels, seconds, rounds=DEFAULT_ROUNDS):
    """Run every load at each level, taking turns in `rounds` rounds of seconds / rounds each.

    A machine that slows down for a few seconds (a neighbour, a timer)
    would otherwise skew the ratios: one run at a level measured bare at
    half its usual throughput. Each round opens new connections, which
    also deals them out to the workers afresh. Returns {name: [combined
    run per level]} and {name: [[run of each round] per level]}.
    """
    results = {load.name: [] for load in loads}
    round_runs = {load.name: [] for load in loads}
    for concurrency in levels:
        runs = {load.name: [] for load in loads}
        for _ in range(rounds):
            for load in loads:
                runs[load.name].append(run_level(
                    load.served.base_url, [load.request], concurrency, seconds / rounds, server_pids=load.served.pids
                ))
        for load in loads:
            results[load.name].append(combined(runs[load.name]))
            round_runs[load.name].append(runs[load.name])
            print(f"  {load.name} at {concurrency}: {results[load.name][-1].throughput:.0f} req/s",
                  file=sys.stderr, flush=True)
    return results, round_runs


def throughput_ratios(results, round_runs, levels):
    """Return {label: {clients: {"ratio", "rounds"}}} for each comparison whose two loads ran."""
    ratios = {}
    for numerator, denominator, label in COMPARISONS:
        if numerator in results and denominator in results:
            ratios[label] = {
                concurrency: {
                    "ratio": top.throughput / bottom.throughput,
                    "rounds": [a.throughput / b.throughput for a, b in zip(top_rounds, bottom_rounds)],
                    "server_cpu_ratio": bottom.server_cpu_per_request_ms() / top.server_cpu_per_request_ms(),
                }
                for concurrency, top, bottom, top_rounds, bottom_rounds in zip(
                    levels, results[numerator], results[denominator], round_runs[numerator], round_runs[denominator]
                )
            }
    return ratios


def print_http(results, ratios, rounds):
    print(
        "\nOver HTTP: Procfile gunicorn, production gunicorn.conf.py (each checkout's own),\n"
        f"the loads in {rounds} alternating rounds per level (figures over all rounds)"
    )
    header = (
        "load", "clients", "requests", "req/s", "p50 ms", "p90 ms", "p99 ms",
        "server CPU ms/req", "client CPU µs/req", "client CPU %", "errors",
    )
    rows = []
    for name, runs in results.items():
        for result in runs:
            p50, p90, p99 = result.latency_ms()
            rows.append((
                name, result.concurrency, result.n_requests, f"{result.throughput:.0f}",
                f"{p50:.2f}", f"{p90:.2f}", f"{p99:.2f}",
                f"{result.server_cpu_per_request_ms():.3f}", f"{result.client_cpu_per_request_us():.0f}",
                f"{100 * result.client_cpu_s / result.seconds:.0f}", failures_of(result),
            ))
    print(format_table(header, rows))
    for label, by_level in ratios.items():
        print(f"\n{label}")
        print(format_table(
            ("clients", "throughput ratio", "ratio in each round", "server CPU per request, inverse ratio"),
            [
                (concurrency, f"{ratio['ratio']:.3f}", " / ".join(f"{value:.3f}" for value in ratio["rounds"]),
                 f"{ratio['server_cpu_ratio']:.3f}")
                for concurrency, ratio in by_level.items()
            ],
        ))


def failures_of(result):
    return result.connection_errors + result.server_errors + sum(result.unexpected.values())


# ---- Memory -----------------------------------------------------------------


def memory_summary(snapshot, dyno=DYNO_MEMORY):
    """Add totals and the dyno headroom to a memory snapshot."""
    processes = [snapshot["master"], *snapshot["workers"]]
    total_rss = sum(process["rss"] for process in processes)
    have_pss = all(process["pss"] is not None for process in processes)
    total_pss = sum(process["pss"] for process in processes) if have_pss else None
    summary = {**snapshot, "total_rss": total_rss, "total_pss": total_pss}
    summary["headroom_pss"] = dyno - total_pss if have_pss else None
    summary["headroom_rss"] = dyno - total_rss
    uss = [process["uss"] for process in snapshot["workers"]]
    if have_pss and all(value is not None for value in uss):
        summary["added_per_worker"] = max(uss)
    return summary


def print_memory(snapshots, n_workers):
    print(f"\nMemory (MiB): gunicorn master and its {n_workers} workers (the default count), 512 MiB dyno")
    rows = []
    for label, snapshot in snapshots.items():
        processes = [("master", snapshot["master"])] + [
            (f"worker {i + 1}", worker) for i, worker in enumerate(snapshot["workers"])
        ]
        for role, process in processes:
            rows.append((label, role, process["pid"], mib(process["rss"]), mib(process["pss"]), mib(process["uss"])))
        rows.append((label, "total", "", mib(snapshot["total_rss"]), mib(snapshot["total_pss"]), ""))
        rows.append((label, "headroom", "", mib(snapshot["headroom_rss"]), mib(snapshot["headroom_pss"]), ""))
    print(format_table(("when", "process", "pid", "RSS", "PSS", "USS"), rows))
    print(
        "  RSS counts the pages workers share with the master (preload_app) once per process;\n"
        "  PSS shares them out, so the PSS total is what the dyno really holds; USS is what a\n"
        "  worker holds alone, roughly what one more worker would add."
    )


def mib(value):
    return "–" if value is None else f"{value / MIB:.1f}"


# ---- Install size -------------------------------------------------------------


def requirement_names(path):
    """Return the names of the packages a requirements file lists."""
    names = []
    for line in Path(path).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            names.append(Requirement(line).name)
    return names


def runtime_distributions(names):
    """Return the installed distributions of `names` and of everything they require, recursively."""
    seen = {}
    pending = list(names)
    while pending:
        name = pending.pop()
        key = name.lower().replace("_", "-")
        if key in seen:
            continue
        distribution = importlib.metadata.distribution(name)
        seen[key] = distribution
        for text in distribution.requires or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                pending.append(requirement.name)
    return seen


def installed_size(distribution):
    """Return the bytes of the files a distribution's RECORD lists (its .pyc files included)."""
    total = 0
    for file in distribution.files or []:
        path = Path(distribution.locate_file(file))
        if path.is_file():
            total += path.stat().st_size
    return total


def install_size_from_metadata(requirements=PROJECT_ROOT / "requirements.txt"):
    """Measure the run-time packages already installed in this interpreter's environment."""
    distributions = runtime_distributions(requirement_names(requirements))
    sizes = {distribution.metadata["Name"]: installed_size(distribution) for distribution in distributions.values()}
    return {
        "method": f"importlib.metadata RECORD files of {requirements.name} and its dependencies, in {sys.prefix}",
        "total_bytes": sum(sizes.values()),
        "packages": dict(sorted(sizes.items(), key=lambda item: -item[1])),
    }


def directory_size(path):
    return sum(file.stat().st_size for file in Path(path).rglob("*") if file.is_file() and not file.is_symlink())


def install_size_from_venv(requirements=PROJECT_ROOT / "requirements.txt"):
    """Install the requirements into a temporary venv (pip's configured index) and measure site-packages."""
    with tempfile.TemporaryDirectory(prefix="bench-venv-") as folder:
        venv.create(folder, with_pip=True)
        python = Path(folder) / "bin" / "python"
        started = time.perf_counter()
        subprocess.run(
            [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", requirements],
            check=True,
        )
        seconds = time.perf_counter() - started
        site_packages = next(Path(folder).glob("lib/python*/site-packages"))
        pip_size = sum(
            directory_size(path) for path in site_packages.iterdir() if path.name.lower().startswith(("pip", "setuptools"))
        )
        return {
            "method": "pip install -r requirements.txt into a temporary venv; du of site-packages without pip and setuptools",
            "total_bytes": directory_size(site_packages) - pip_size,
            "pip_install_s": seconds,
        }


def print_install_size(size):
    print(f"\nInstall size of the run-time requirements: {size['total_bytes'] / MIB:.1f} MiB")
    print(f"  ({size['method']})")
    if "packages" in size:
        rows = [(name, f"{value / MIB:.1f}") for name, value in size["packages"].items()]
        print(format_table(("package", "MiB"), rows))


# ---- Main -----------------------------------------------------------------------


def print_targets(results, ratios, numbers):
    """Print whether the targets are met; return them as a dict."""
    targets = {}
    print("\nTargets")
    page_ratios = ratios.get(COMPARISONS[0][2], {})
    for concurrency in TARGET_RATIO_LEVELS:
        if concurrency in page_ratios:
            ratio = page_ratios[concurrency]["ratio"]
            met = ratio >= TARGET_RATIO
            targets[f"page_ratio_at_{concurrency}"] = {"value": ratio, "met": met}
            print(f"  the page's request, app/bare at {concurrency} clients ≥ {TARGET_RATIO}: {ratio:.3f}  "
                  f"{'met' if met else 'MISSED'}")
    page_at_level = {result.concurrency: result for result in results[PAGE]}
    if TARGET_P99_LEVEL in page_at_level:
        p99 = page_at_level[TARGET_P99_LEVEL].latency_ms()[PERCENTILES.index(99)]
        met = p99 < TARGET_P99_MS
        targets[f"p99_at_{TARGET_P99_LEVEL}"] = {"value_ms": p99, "met": met}
        print(f"  the page's request, p99 at {TARGET_P99_LEVEL} clients < {TARGET_P99_MS} ms: {p99:.1f} ms  "
              f"{'met' if met else 'MISSED'}")
    for concurrency, ratio in ratios.get(COMPARISONS[1][2], {}).items():
        met = ratio["ratio"] >= 1
        targets[f"canvas_after_before_at_{concurrency}"] = {"value": ratio["ratio"], "met": met}
        print(f"  a canvas form, after/before at {concurrency} clients ≥ 1 (no slower): {ratio['ratio']:.3f}  "
              f"{'met' if met else 'MISSED'} (rounds: {' / '.join(f'{v:.3f}' for v in ratio['rounds'])})")
    if numbers is not None:
        ratio = numbers["ratio_cpu_median"]
        met = ratio < TARGET_NUMBER_RATIO
        targets["number_over_digit_cpu"] = {"value": ratio, "met": met}
        print(f"  a {len(BENCH_NUMBER)}-digit number / a digit, server CPU time < {TARGET_NUMBER_RATIO:g}: "
              f"{ratio:.3f}  {'met' if met else 'MISSED'}")
    return targets


def environment():
    return {
        "python": platform.python_version(),
        **{name: importlib.metadata.version(name) for name in ("numpy", "scipy", "pillow", "flask", "gunicorn")},
        "cpu_count": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
        "platform": platform.platform(),
    }


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.serve", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=DEFAULT_SECONDS, help="seconds per HTTP level and load")
    parser.add_argument("--concurrency", type=parse_levels, default=DEFAULT_LEVELS, help="e.g. 1,8,32")
    parser.add_argument(
        "--rounds", type=int, default=DEFAULT_ROUNDS, help="alternating rounds per level and per comparison"
    )
    parser.add_argument("--stage-seconds", type=float, default=DEFAULT_STAGE_SECONDS, help="seconds per in-process stage")
    parser.add_argument("--warmup", type=float, default=DEFAULT_WARMUP_S, help="seconds of warm-up load per server")
    parser.add_argument(
        "--baseline", metavar="REV",
        help="also serve this git revision (a temporary worktree) and compare a canvas form posted to both",
    )
    parser.add_argument(
        "--memory-requests", type=int, default=DEFAULT_MEMORY_REQUESTS,
        help="requests to the app (warm-up and levels included) before the second memory reading",
    )
    parser.add_argument("--install-size", choices=("metadata", "venv"), default="metadata")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="also cProfile N in-process page requests")
    parser.add_argument("--json", type=Path, help="save the figures to this file")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error(f"--rounds must be at least 1, got {args.rounds}")
    if not CHROMIUM_PATH.is_file():
        parser.error(f"Chromium not found at {CHROMIUM_PATH} (the page's request is captured in it); set CHROMIUM_PATH")
    return args


def main(argv=None):
    args = parse_args(argv)
    figures = {"environment": environment(), "arguments": {**vars(args), "json": str(args.json)}}
    print(f"bench.serve on {platform.node()}: {os.cpu_count()} CPUs, load average "
          + " ".join(f"{value:.2f}" for value in os.getloadavg()))
    if args.baseline:
        figures["baseline"] = describe_revision(args.baseline)
        print(f"Baseline: {figures['baseline']}")

    canvas_png = digit_png(BENCH_DIGIT)
    canvas_form = multipart_request(DIGIT_PATH, canvas_png)
    startup = create_app_times()
    app = create_app()
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as log_dir, contextlib.ExitStack() as servers:
        predict = Served("app", log_dir)
        servers.callback(predict.stop)
        captured = capture_page_request(predict.base_url, DIGIT_STROKES[BENCH_DIGIT])
        print(f"The page sent: {captured.describe()}", flush=True)
        figures["page_request"] = {**captured._asdict(), "body": f"{len(captured.body)} bytes"}
        page_image = image_of(captured)

        with threadpool_limits(limits=1, user_api="blas"):
            stages = in_process_stages(app, captured, canvas_png, args.stage_seconds)
            print_stages(stages, captured, page_image)
            decoding = decode_comparison(page_image, canvas_png, args.stage_seconds * args.rounds, args.rounds)
            numbers = number_comparison(app, args.stage_seconds * args.rounds, args.rounds)
            if args.profile:
                profile_predict(app, captured, args.profile)
        figures.update({"in_process": stages, "decoding": decoding, "number": numbers})

        bare = Served("bare", log_dir, app_spec=BARE_APP_SPEC)
        servers.callback(bare.stop)
        page_request = replay_request("page", captured, expected_status=200)
        loads = [
            Load(PAGE, predict, page_request),
            Load(BARE, bare, replay_request("bare", captured, target=BARE_PATH, expected_status=200)),
        ]
        started = [predict, bare]
        if args.baseline:
            checkout = servers.enter_context(baseline_checkout(args.baseline))
            baseline = Served("baseline", log_dir, root=checkout)
            servers.callback(baseline.stop)
            started.append(baseline)
            loads += [
                Load(CANVAS, predict, Request("canvas", canvas_form, 200, fresh_boundary=True)),
                Load(BASELINE, baseline, Request("canvas", canvas_form, 200, fresh_boundary=True)),
            ]
        startup.update({f"{served.name}_first_answer_s": served.first_answer_s for served in started})

        warmup_clients = max(args.concurrency)
        warmups = [run_level(load.served.base_url, [load.request], warmup_clients, args.warmup) for load in loads]
        memory = {"after warm-up": memory_summary(predict.memory())}
        bare_memory = memory_summary(bare.memory())
        results, round_runs = http_levels(loads, args.concurrency, args.seconds, args.rounds)
        sent = sum(
            run.n_requests
            for load, warmup in zip(loads, warmups) if load.served is predict
            for run in [warmup, *results[load.name]]
        )
        if sent < args.memory_requests:
            top_up = run_level(predict.base_url, [page_request], 8, max_requests=args.memory_requests - sent)
            warmups.append(top_up)
            sent += top_up.n_requests
        memory[f"after {sent:,} requests"] = memory_summary(predict.memory())
        restarted = [served.name for served in started if served.restarted()]

    n_workers = default_worker_count()
    print(f"\nStart-up (median of {startup['repeats']} fresh interpreters for create_app)")
    print(format_table(("step", "seconds"), [
        ("import app (Flask, NumPy, SciPy, Pillow)", f"{startup['import_s']:.3f}"),
        ("create_app() with the model load", f"{startup['create_app_s']:.3f}"),
        ("  model.load alone", f"{startup['model_load_s']:.3f}"),
        *[(f"gunicorn start → first answer ({served.name})", f"{served.first_answer_s:.3f}") for served in started],
    ]))
    ratios = throughput_ratios(results, round_runs, args.concurrency)
    print_http(results, ratios, args.rounds)
    print_memory(memory, n_workers)
    print(f"  bare app for comparison: PSS total {mib(bare_memory['total_pss'])} MiB, RSS total {mib(bare_memory['total_rss'])} MiB")
    if "added_per_worker" in memory["after warm-up"]:
        last = list(memory.values())[-1]
        extra = int(last["headroom_pss"] // last["added_per_worker"])
        print(f"  each extra worker adds about {mib(last['added_per_worker'])} MiB (its USS): "
              f"about {n_workers + extra} workers would fit in 512 MiB")

    size = install_size_from_metadata() if args.install_size == "metadata" else install_size_from_venv()
    print_install_size(size)
    targets = print_targets(results, ratios, numbers)

    failures = sum(failures_of(run) for run in warmups + [run for runs in results.values() for run in runs])
    if failures or restarted:
        print(f"\nWARNING: {failures} failed requests, workers restarted: {restarted}; see --json for examples")

    figures.update({
        "startup": startup,
        "http": {name: [result.summary() for result in runs] for name, runs in results.items()},
        "http_ratios": {label: {str(c): ratio for c, ratio in by_level.items()} for label, by_level in ratios.items()},
        "memory": memory,
        "bare_memory": bare_memory,
        "default_workers": n_workers,
        "install_size": size,
        "targets": targets,
        "failed_requests": failures,
        "workers_restarted": restarted,
    })
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n")
        print(f"\nFigures saved to {args.json}")


if __name__ == "__main__":
    main()
