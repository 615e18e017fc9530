"""How fast /predict answers, from one stage in process to the real gunicorn under load.

    python -m bench.serve [--seconds S] [--concurrency 1,8,32] [--rounds R] [--stage-seconds S]
        [--warmup S] [--memory-requests N] [--install-size metadata|venv]
        [--profile N] [--json PATH]

One run prints five tables:

- In process: median and p99 of each stage of /predict for a 280×280
  canvas PNG (a drawn 5, transparent, as the page sends it), then the whole
  /predict through Flask's test client, as a form post like the page's and
  as a raw image/png body. BLAS runs on one thread, as gunicorn.conf.py sets.
- Start-up: create_app() with the model load, in a fresh interpreter, and
  the time from starting gunicorn to its first answer.
- Over HTTP: the Procfile's gunicorn with the production gunicorn.conf.py,
  once serving the app and once serving bench.bare_app (a constant JSON
  answer, same server settings), both sent the same form post by 1, 8, 32
  keep-alive clients, alternating in `--rounds` rounds per level. Throughput, p50/p90/p99 latency, the server's
  and the client's CPU per request, and predict's throughput over bare's.
- Memory: RSS and PSS of gunicorn's master and each worker after warm-up
  and after `--memory-requests` requests to /predict, their total for the
  default worker count, and the headroom on a 512 MB dyno.
- Install size of requirements.txt.

The targets (predict/bare ≥ 0.35 at 8 and 32 clients, p99 at 32 clients
under 50 ms) are marked met or missed; the exit status is 0 either way.
Figures from a machine that is busy with something else are noisy: the
header shows the load average. ``--profile N`` adds a cProfile of N
in-process form posts. Needs threadpoolctl (bench/requirements.txt).
"""

import argparse
import cProfile
import importlib.metadata
import json
import os
import platform
import pstats
import runpy
import statistics
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

import numpy as np
from flask import jsonify
from packaging.requirements import Requirement
from threadpoolctl import threadpool_limits

from app import create_app
from app.api import MODEL_KEY, get_model_version, prediction_body
from bench.bare_app import BARE_APP_SPEC
from bench.loadgen import (
    BOUNDARY_TEMPLATE,
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
    parse_levels,
    process_memory,
    run_level,
    seconds_to_first_answer,
    wait_for_workers,
)
from model import N_PIXELS
from model.preprocess import (
    DEFAULT_MAX_PIXELS,
    centre_by_mass,
    crop_to_ink,
    decode_image,
    fit_to_box,
    ink_intensity,
    thicken_thin_strokes,
)
from bench.support.server import PROJECT_ROOT, ProcfileServer

DEFAULT_SECONDS = 10
DEFAULT_ROUNDS = 3
"""Each level alternates predict and bare in this many rounds, so that a slow spell of the machine hits both."""
DEFAULT_STAGE_SECONDS = 1.0
DEFAULT_WARMUP_S = 2.0
DEFAULT_LEVELS = (1, 8, 32)
DEFAULT_MEMORY_REQUESTS = 10_000
STARTUP_REPEATS = 3
MIN_STAGE_RUNS = 20

BENCH_DIGIT = 5
"""The digit drawn for the in-process stages and the HTTP runs: strokes and a curve."""

DYNO_MEMORY = 512 * MIB
"""Memory of a Heroku basic dyno (Heroku's "512 MB" are MiB)."""

TARGET_RATIO = 0.35
TARGET_RATIO_LEVELS = (8, 32)
TARGET_P99_MS = 50
TARGET_P99_LEVEL = 32

CREATE_APP_SCRIPT = """
import json, os, time
for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(variable, "1")
started = time.perf_counter()
import app
imported = time.perf_counter()
application = app.create_app()
created = time.perf_counter()
from model.network import Network
Network.load(application.config["MODEL_PATH"])
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


def pipeline_steps(app):
    """Return the steps of /predict as (name, function of the previous step's output), bytes first.

    The chain is model.preprocess's, step by step, then the network and the
    JSON answer: a new preprocessing step must be added here too.
    """
    model = app.extensions[MODEL_KEY]
    with app.app_context():
        version = get_model_version()

    def answer_json(probabilities):
        with app.app_context():
            return jsonify(prediction_body(probabilities, version)).get_data()

    return [
        ("decode (PNG → Pillow image)", lambda data: decode_image(data, DEFAULT_MAX_PIXELS)),
        ("ink extraction (ink_intensity)", ink_intensity),
        ("  crop_to_ink", crop_to_ink),
        ("  thicken_thin_strokes + crop", lambda ink: crop_to_ink(thicken_thin_strokes(ink))),
        ("  fit_to_box (Lanczos to 20 px)", fit_to_box),
        ("  centre_by_mass", centre_by_mass),
        ("forward pass (one image)", lambda field: model.predict_proba(field.reshape(1, N_PIXELS))[0]),
        ("JSON (answer dict + jsonify)", answer_json),
    ]


CROP_TO_CENTRE = "crop + thicken + resize + centre"
CROP_TO_CENTRE_STEPS = 4
"""The steps after ink extraction that the brief reports together."""


def time_pipeline(steps, png, seconds, min_runs=MIN_STAGE_RUNS):
    """Run the whole chain again and again, timing each step where it runs; return {name: (wall, cpu)}.

    Inside the chain each step finds the caches as a request leaves them:
    the network's 2.5 MB of weights, for one, are no longer in cache after
    decoding, so its time here is several times its time alone.
    """
    wall = {name: [] for name, _ in steps}
    cpu = {name: [] for name, _ in steps}
    deadline = time.perf_counter() + seconds
    runs = 0
    while runs < min_runs or time.perf_counter() < deadline:
        value = png
        for name, step in steps:
            started, started_cpu = time.perf_counter_ns(), time.thread_time_ns()
            value = step(value)
            wall[name].append(time.perf_counter_ns() - started)
            cpu[name].append(time.thread_time_ns() - started_cpu)
        runs += 1
    return {name: (np.array(wall[name]) / 1e9, np.array(cpu[name]) / 1e9) for name, _ in steps}


def time_alone(steps, png, seconds):
    """Time each step on its own, over and over on the same input (warm caches)."""
    inputs, value = [], png
    for _, step in steps:
        inputs.append(value)
        value = step(value)
    share = seconds / len(steps)
    return {
        name: time_calls(lambda step=step, value=value: step(value), share)
        for (name, step), value in zip(steps, inputs)
    }


def in_process_stages(app, png, seconds):
    """Time each stage of /predict in the chain and alone, then whole requests; return {name: figures}."""
    steps = pipeline_steps(app)
    in_chain = time_pipeline(steps, png, seconds)
    alone = time_alone(steps, png, seconds)
    names = [name for name, _ in steps]
    grouped = names[2 : 2 + CROP_TO_CENTRE_STEPS]
    in_chain[CROP_TO_CENTRE] = tuple(sum(in_chain[name][i] for name in grouped) for i in range(2))
    in_chain["all stages (sum per run)"] = tuple(sum(in_chain[name][i] for name in names) for i in range(2))
    order = names[:2] + [CROP_TO_CENTRE] + grouped + names[2 + CROP_TO_CENTRE_STEPS :] + ["all stages (sum per run)"]

    form_body, form_type = multipart_body(png)
    client = app.test_client()

    def post_form():
        boundary = fresh_boundary()
        response = client.post(
            "/predict",
            data=form_body.replace(BOUNDARY_TEMPLATE, boundary),
            content_type=form_type.replace(BOUNDARY_TEMPLATE.decode(), boundary.decode()),
        )
        assert response.status_code == 200, response.get_data(as_text=True)

    def post_raw():
        response = client.post("/predict", data=png, content_type="image/png")
        assert response.status_code == 200, response.get_data(as_text=True)

    model = app.extensions[MODEL_KEY]
    extra = {
        "model.version (weights' SHA-256; now once per model)": time_calls(lambda: model.version, seconds / 4),
        "/predict via test client, form post (as the page)": time_calls(post_form, seconds),
        "/predict via test client, raw image/png body": time_calls(post_raw, seconds),
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


def print_stages(stages, png):
    print(
        f"\nIn process: one {len(png):,}-byte 280×280 transparent canvas PNG of a {BENCH_DIGIT}, "
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


def profile_predict(app, png, n_requests, limit=20):
    """Print where in-process /predict spends its time, by own time and by cumulative time."""
    client = app.test_client()
    form_body, form_type = multipart_body(png)
    bodies = [
        (form_body.replace(BOUNDARY_TEMPLATE, b), form_type.replace(BOUNDARY_TEMPLATE.decode(), b.decode()))
        for b in (fresh_boundary() for _ in range(n_requests))
    ]
    profiler = cProfile.Profile()
    profiler.enable()
    for body, content_type in bodies:
        client.post("/predict", data=body, content_type=content_type)
    profiler.disable()
    print(f"\ncProfile of {n_requests} form posts to /predict through the test client (profiler overhead included)")
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

    def __init__(self, name, log_dir, n_workers, app_spec=None):
        self.name = name
        self.server = ProcfileServer(Path(log_dir) / f"{name}.log", app_spec=app_spec)
        self.first_answer_s = seconds_to_first_answer(self.server)
        self.master = self.server.process.pid
        self.workers = wait_for_workers(self.master, n_workers)

    @property
    def pids(self):
        return [self.master, *self.workers]

    def memory(self):
        return {
            "master": {"pid": self.master, **process_memory(self.master)},
            "workers": [{"pid": pid, **process_memory(pid)} for pid in self.workers],
        }

    def stop(self):
        self.server.stop()


def default_worker_count():
    """Return the worker count gunicorn.conf.py gives when WEB_CONCURRENCY is not set here."""
    return runpy.run_path(str(PROJECT_ROOT / "gunicorn.conf.py"))["workers"]


def http_levels(predict, bare, predict_request, bare_request, levels, seconds, rounds=DEFAULT_ROUNDS):
    """Run predict and bare at each level, alternating in `rounds` rounds of seconds / rounds each.

    A machine that slows down for a few seconds (a neighbour, a timer)
    would otherwise skew the ratio: one run at a level measured bare at
    half its usual throughput. Each round opens new connections, which
    also deals them out to the workers afresh. Returns the combined runs
    per app and level, and the ratio of each round.
    """
    results = {"predict": [], "bare": []}
    round_ratios = []
    for concurrency in levels:
        runs = {"predict": [], "bare": []}
        for _ in range(rounds):
            for name, served, request in (("predict", predict, predict_request), ("bare", bare, bare_request)):
                runs[name].append(
                    run_level(served.server.base_url, [request], concurrency, seconds / rounds, server_pids=served.pids)
                )
        for name in results:
            results[name].append(combined(runs[name]))
            print(f"  {name} at {concurrency}: {results[name][-1].throughput:.0f} req/s", file=sys.stderr, flush=True)
        round_ratios.append(
            [predict_run.throughput / bare_run.throughput for predict_run, bare_run in zip(runs["predict"], runs["bare"])]
        )
    return results, round_ratios


def print_http(results, round_ratios, levels):
    rounds = len(round_ratios[0])
    print(
        "\nOver HTTP: Procfile gunicorn, production gunicorn.conf.py; the same form post to both apps,\n"
        f"in {rounds} alternating rounds per level (figures over all rounds)"
    )
    header = (
        "app", "clients", "requests", "req/s", "p50 ms", "p90 ms", "p99 ms",
        "server CPU ms/req", "client CPU µs/req", "client CPU %", "errors",
    )
    rows = []
    for name in ("predict", "bare"):
        for result in results[name]:
            p50, p90, p99 = result.latency_ms()
            failures = result.connection_errors + result.server_errors + sum(result.unexpected.values())
            rows.append((
                name, result.concurrency, result.n_requests, f"{result.throughput:.0f}",
                f"{p50:.2f}", f"{p90:.2f}", f"{p99:.2f}",
                f"{result.server_cpu_per_request_ms():.3f}", f"{result.client_cpu_per_request_us():.0f}",
                f"{100 * result.client_cpu_s / result.seconds:.0f}", failures,
            ))
    print(format_table(header, rows))
    ratio_rows = []
    for concurrency, predict, bare, ratios in zip(levels, results["predict"], results["bare"], round_ratios):
        cpu_ratio = bare.server_cpu_per_request_ms() / predict.server_cpu_per_request_ms()
        ratio_rows.append((
            concurrency, f"{predict.throughput / bare.throughput:.3f}",
            " / ".join(f"{ratio:.3f}" for ratio in ratios), f"{cpu_ratio:.3f}",
        ))
    print("\npredict / bare")
    print(format_table(
        ("clients", "throughput ratio", "ratio in each round", "server CPU ratio (bare/predict)"), ratio_rows
    ))


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


def print_targets(results, levels):
    """Print whether the throughput ratio and p99 targets are met; return them as a dict."""
    targets = {}
    by_level = dict(zip(levels, zip(results["predict"], results["bare"])))
    print("\nTargets")
    for concurrency in TARGET_RATIO_LEVELS:
        if concurrency in by_level:
            predict, bare = by_level[concurrency]
            ratio = predict.throughput / bare.throughput
            met = ratio >= TARGET_RATIO
            targets[f"ratio_at_{concurrency}"] = {"value": ratio, "met": met}
            print(f"  predict/bare at {concurrency} clients ≥ {TARGET_RATIO}: {ratio:.3f}  {'met' if met else 'MISSED'}")
    if TARGET_P99_LEVEL in by_level:
        p99 = by_level[TARGET_P99_LEVEL][0].latency_ms()[PERCENTILES.index(99)]
        met = p99 < TARGET_P99_MS
        targets[f"p99_at_{TARGET_P99_LEVEL}"] = {"value_ms": p99, "met": met}
        print(f"  predict p99 at {TARGET_P99_LEVEL} clients < {TARGET_P99_MS} ms: {p99:.1f} ms  {'met' if met else 'MISSED'}")
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
    parser.add_argument("--seconds", type=float, default=DEFAULT_SECONDS, help="seconds per HTTP level and app")
    parser.add_argument("--concurrency", type=parse_levels, default=DEFAULT_LEVELS, help="e.g. 1,8,32")
    parser.add_argument(
        "--rounds", type=int, default=DEFAULT_ROUNDS, help="alternating predict/bare rounds per level (--seconds in all)"
    )
    parser.add_argument("--stage-seconds", type=float, default=DEFAULT_STAGE_SECONDS, help="seconds per in-process stage")
    parser.add_argument("--warmup", type=float, default=DEFAULT_WARMUP_S, help="seconds of warm-up load per server")
    parser.add_argument(
        "--memory-requests", type=int, default=DEFAULT_MEMORY_REQUESTS,
        help="requests to /predict (warm-up and levels included) before the second memory reading",
    )
    parser.add_argument("--install-size", choices=("metadata", "venv"), default="metadata")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="also cProfile N in-process requests")
    parser.add_argument("--json", type=Path, help="save the figures to this file")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    figures = {"environment": environment(), "arguments": {**vars(args), "json": str(args.json)}}
    print(f"bench.serve on {platform.node()}: {os.cpu_count()} CPUs, load average "
          + " ".join(f"{value:.2f}" for value in os.getloadavg()))

    png = digit_png(BENCH_DIGIT)
    app = create_app()
    with threadpool_limits(limits=1, user_api="blas"):
        stages = in_process_stages(app, png, args.stage_seconds)
        print_stages(stages, png)
        if args.profile:
            profile_predict(app, png, args.profile)
    figures["in_process"] = stages

    startup = create_app_times()
    n_workers = default_worker_count()
    form_request = Request("predict", multipart_request("/predict", png), 200, fresh_boundary=True)
    bare_request = Request("bare", multipart_request("/healthz", png), 200, fresh_boundary=True)
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as log_dir:
        predict = bare = None
        try:
            predict = Served("predict", log_dir, n_workers)
            bare = Served("bare", log_dir, n_workers, app_spec=BARE_APP_SPEC)
            startup["first_answer_s"] = predict.first_answer_s
            startup["bare_first_answer_s"] = bare.first_answer_s

            warmup_clients = max(args.concurrency)
            warmups = [
                run_level(predict.server.base_url, [form_request], warmup_clients, args.warmup),
                run_level(bare.server.base_url, [bare_request], warmup_clients, args.warmup),
            ]
            memory = {"after warm-up": memory_summary(predict.memory())}
            bare_memory = memory_summary(bare.memory())
            results, round_ratios = http_levels(
                predict, bare, form_request, bare_request, args.concurrency, args.seconds, args.rounds
            )
            sent = warmups[0].n_requests + sum(result.n_requests for result in results["predict"])
            if sent < args.memory_requests:
                top_up = run_level(
                    predict.server.base_url, [form_request], 8, max_requests=args.memory_requests - sent
                )
                warmups.append(top_up)
                sent += top_up.n_requests
            memory[f"after {sent:,} requests"] = memory_summary(predict.memory())
            restarted = child_restarts(predict, bare)
        finally:
            for served in (predict, bare):
                if served is not None:
                    served.stop()

    print(f"\nStart-up (median of {startup['repeats']} fresh interpreters for create_app)")
    print(format_table(("step", "seconds"), [
        ("import app (Flask, NumPy, SciPy, Pillow)", f"{startup['import_s']:.3f}"),
        ("create_app() with the model load", f"{startup['create_app_s']:.3f}"),
        ("  Network.load alone", f"{startup['model_load_s']:.3f}"),
        ("gunicorn start → first answer (predict app)", f"{startup['first_answer_s']:.3f}"),
        ("gunicorn start → first answer (bare app)", f"{startup['bare_first_answer_s']:.3f}"),
    ]))
    print_http(results, round_ratios, args.concurrency)
    print_memory(memory, n_workers)
    print(f"  bare app for comparison: PSS total {mib(bare_memory['total_pss'])} MiB, RSS total {mib(bare_memory['total_rss'])} MiB")
    if "added_per_worker" in memory["after warm-up"]:
        last = list(memory.values())[-1]
        extra = int(last["headroom_pss"] // last["added_per_worker"])
        print(f"  each extra worker adds about {mib(last['added_per_worker'])} MiB (its USS): "
              f"about {n_workers + extra} workers would fit in 512 MiB")

    size = install_size_from_metadata() if args.install_size == "metadata" else install_size_from_venv()
    print_install_size(size)
    targets = print_targets(results, args.concurrency)

    failures = sum(r.connection_errors + r.server_errors + sum(r.unexpected.values())
                   for r in warmups + results["predict"] + results["bare"])
    if failures or restarted:
        print(f"\nWARNING: {failures} failed requests, workers restarted: {restarted}; see --json for examples")

    figures.update({
        "startup": startup,
        "http": {name: [result.summary() for result in runs] for name, runs in results.items()},
        "http_ratio": {
            str(c): p.throughput / b.throughput
            for c, p, b in zip(args.concurrency, results["predict"], results["bare"])
        },
        "http_ratio_rounds": {str(c): ratios for c, ratios in zip(args.concurrency, round_ratios)},
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


def child_restarts(*served):
    """Return the names of the servers whose workers are no longer the ones that started."""
    return [s.name for s in served if child_pids(s.master) != s.workers]


if __name__ == "__main__":
    main()
