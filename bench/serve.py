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
  `--baseline REV`, that revision's files are exported beside (git archive),
  served by its own Procfile gunicorn, and both apps are sent a full
  280×280 canvas PNG as a form in the same alternating rounds. Throughput,
  p50/p90/p99 latency, the server's and the client's CPU per request, and
  the ratios of throughput.
- Memory: RSS and PSS of gunicorn's master and each worker after warm-up
  and after `--memory-requests` requests, their total for the default
  worker count, and the headroom on a 512 MB dyno.
- Install size of requirements.txt.

The targets (the page's request at ≥ 0.45 of bare's throughput at 8
clients; p99 at 32 clients under 50 ms; the canvas form no slower than the
baseline; a 4-digit number under 3× a digit's server time) are marked met
or missed; the exit status is 0 either way. Figures from a machine that is
busy with something else are noisy: the header shows the load average.
``--profile N`` adds a cProfile of N in-process page requests. Needs
threadpoolctl (bench/requirements.txt) and Chromium. The in-process
timings are bench.stages's, memory and install size bench.footprint's.
"""

import argparse
import contextlib
import importlib.metadata
import json
import os
import platform
import runpy
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import NamedTuple

from app import create_app
from bench.bare_app import BARE_APP_SPEC, BARE_PATH
from bench.footprint import (
    install_size_from_metadata,
    install_size_from_venv,
    memory_summary,
    mib,
    print_install_size,
    print_memory,
)
from bench.page_request import capture_page_request, image_of, replay_request
from bench.stages import (
    BENCH_DIGIT,
    BENCH_NUMBER,
    DIGIT_PATH,
    decode_comparison,
    in_process_stages,
    number_comparison,
    print_stages,
    profile_predict,
)
from bench.support.chromium import CHROMIUM_PATH
from bench.support.closed_loop import PERCENTILES, combined, parse_levels, run_level
from bench.support.digits import DIGIT_STROKES, digit_png
from bench.support.http import Request, multipart_request
from bench.support.processes import child_pids, process_memory, wait_for_workers
from bench.support.server import PROJECT_ROOT, ProcfileServer, seconds_to_first_answer
from bench.support.tables import format_table

DEFAULT_SECONDS = 10
DEFAULT_ROUNDS = 3
"""Each level alternates the servers in this many rounds, so that a slow spell of the machine hits all of them."""
DEFAULT_STAGE_SECONDS = 1.0
DEFAULT_WARMUP_S = 2.0
DEFAULT_LEVELS = (1, 8, 32)
DEFAULT_MEMORY_REQUESTS = 10_000
STARTUP_REPEATS = 3
TARGET_RATIO = 0.45
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
    """Export `revision`'s files into a temporary folder; yield it, and remove it afterwards.

    `git archive` only reads the repository: a worktree would be recorded in
    the repository that every checkout of it shares.
    """
    folder = Path(tempfile.mkdtemp(prefix="bench-baseline-"))
    try:
        archive = subprocess.run(["git", "-C", str(PROJECT_ROOT), "archive", "--format=tar", revision],
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
        yield folder
    finally:
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
        help="also serve this git revision (its files exported to a temporary folder) and compare a canvas form posted to both",
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


def threadpool_limits_or_exit():
    """Return threadpoolctl's `threadpool_limits`, or exit saying how to install it.

    threadpoolctl is a benchmark requirement (bench/requirements.txt), not
    the app's: it is imported when a run starts, so that `--help` works without it.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ModuleNotFoundError:
        sys.exit("error: bench.serve needs threadpoolctl: .venv/bin/pip install -r bench/requirements.txt")
    return threadpool_limits


def main(argv=None):
    args = parse_args(argv)
    threadpool_limits = threadpool_limits_or_exit()
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
