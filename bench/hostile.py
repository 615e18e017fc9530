"""Time and memory of the real server on hostile drawings: noise, dot grids, hatching, confetti, specks.

    python -m bench.hostile [--repeats R] [--json PATH]

The Procfile's gunicorn, with the production gunicorn.conf.py and one
worker, is sent every class of bench.support.hostile at each of its sizes,
to POST /predict?preview=1 and POST /predict/number?preview=1 as raw PNG
bodies, one request at a time. For each it prints the status and code, the
server time (the median round trip of `--repeats` requests on loopback),
and the worker's peak memory: its resident high-water mark (VmHWM) over
the request, which /proc/PID/clear_refs resets before each, less its
resident size before the request ("rise") and less the bare app's worker
(bench.bare_app, same server settings: "over bare").

Targets: every request answered in under 1 s, none raising the worker's
memory by more than 100 MB, no 5xx, no worker restarted; each is marked
met or missed, and the exit status is 0 either way.
"""

import argparse
import http.client
import json
import statistics
import tempfile
import time
from pathlib import Path

import psutil

from bench.bare_app import BARE_APP_SPEC, BARE_PATH
from bench.support.hostile import hostile_cases
from bench.support.server import ProcfileServer
from bench.support.tables import format_table

ENDPOINTS = ("/predict?preview=1", "/predict/number?preview=1")
DEFAULT_REPEATS = 3
TARGET_SECONDS = 1.0
TARGET_RISE_MB = 100
MB = 2**20
REQUEST_TIMEOUT_S = 120
"""Far above any target: a request still unanswered then is a hang."""

RESET_PEAK_RSS = b"5"
"""Written to /proc/PID/clear_refs, resets the process's resident high-water mark (Linux ≥ 4.0)."""


def worker_of(server):
    """Return the psutil.Process of the server's one worker."""
    (worker,) = psutil.Process(server.process.pid).children()
    return worker


def peak_rss(pid):
    """Return the resident high-water mark of a process, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"/proc/{pid}/status has no VmHWM")


def reset_peak_rss(pid):
    Path(f"/proc/{pid}/clear_refs").write_bytes(RESET_PEAK_RSS)


def post(connection, path, body):
    """POST a PNG body; return (status, error code or "", seconds)."""
    started = time.perf_counter()
    connection.request("POST", path, body=body, headers={"Content-Type": "image/png"})
    response = connection.getresponse()
    payload = response.read()
    elapsed = time.perf_counter() - started
    code = ""
    if response.status != 200:
        try:
            code = json.loads(payload)["error"]["code"]
        except (ValueError, KeyError, TypeError):
            code = "(not JSON)"
    return response.status, code, elapsed


def measure(server, worker, path, body, repeats):
    """Send `body` `repeats` times; return the figures of one class, size and endpoint."""
    times, rises, peaks, answers = [], [], [], set()
    for _ in range(repeats):
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=REQUEST_TIMEOUT_S)
        before = worker.memory_info().rss
        reset_peak_rss(worker.pid)
        status, code, elapsed = post(connection, path, body)
        connection.close()
        peak = peak_rss(worker.pid)
        times.append(elapsed)
        rises.append(peak - before)
        peaks.append(peak)
        answers.add(f"{status} {code}".strip())
    return {"seconds": statistics.median(times), "worst_seconds": max(times),
            "rise": max(rises), "peak": max(peaks), "answers": sorted(answers)}


def bare_worker_rss():
    """Return the resident size of the bare app's warm worker under the same server settings."""
    with tempfile.TemporaryDirectory(prefix="bench-hostile-") as folder:
        with ProcfileServer(Path(folder) / "bare.log", {"WEB_CONCURRENCY": "1"}, app_spec=BARE_APP_SPEC) as bare:
            worker = worker_of(bare)
            connection = http.client.HTTPConnection("127.0.0.1", bare.port, timeout=REQUEST_TIMEOUT_S)
            connection.request("GET", BARE_PATH)
            connection.getresponse().read()
            return worker.memory_info().rss


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.hostile", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=DEFAULT_REPEATS, help="requests per class, size and endpoint")
    parser.add_argument("--json", type=Path, help="save the figures to this file")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    bare_rss = bare_worker_rss()
    rows, figures = [], []
    with tempfile.TemporaryDirectory(prefix="bench-hostile-") as folder:
        with ProcfileServer(Path(folder) / "app.log", {"WEB_CONCURRENCY": "1"}) as server:
            worker = worker_of(server)
            print(f"gunicorn worker {worker.pid}; bare app's worker: {bare_rss / MB:.1f} MB resident", flush=True)
            for name, side, body in hostile_cases():
                for path in ENDPOINTS:
                    result = measure(server, worker, path, body, args.repeats)
                    figures.append({"class": name, "side": side, "bytes": len(body), "path": path, **result})
                    rows.append((name, f"{side}×{side}", f"{len(body):,}", path.split("?")[0],
                                 " / ".join(result["answers"]), f"{result['seconds'] * 1000:.0f}",
                                 f"{result['worst_seconds'] * 1000:.0f}", f"{result['rise'] / MB:.1f}",
                                 f"{(result['peak'] - bare_rss) / MB:.1f}"))
                    print(f"  {name} {side} {path}: {rows[-1][4]}, {rows[-1][5]} ms", flush=True)
            restarted = worker_of(server).pid != worker.pid
    print()
    print(format_table(("class", "size", "PNG bytes", "endpoint", "answer", "median ms", "worst ms",
                        "rise MB", "over bare MB"), rows))
    slowest = max(figures, key=lambda figure: figure["worst_seconds"])
    highest = max(figures, key=lambda figure: figure["rise"])
    failed = [figure for figure in figures if any(answer.startswith("5") for answer in figure["answers"])]
    print("\nTargets")
    print(f"  every hostile input answered in < {TARGET_SECONDS:.0f} s: worst {slowest['worst_seconds']:.3f} s "
          f"({slowest['class']} {slowest['side']} {slowest['path']})  "
          f"{'met' if slowest['worst_seconds'] < TARGET_SECONDS else 'MISSED'}")
    print(f"  no request raises the worker's memory by > {TARGET_RISE_MB} MB: worst {highest['rise'] / MB:.1f} MB "
          f"({highest['class']} {highest['side']} {highest['path']})  "
          f"{'met' if highest['rise'] <= TARGET_RISE_MB * MB else 'MISSED'}")
    print(f"  no 5xx, no worker restarted: {len(failed)} with a 5xx, restarted: {restarted}  "
          f"{'met' if not failed and not restarted else 'MISSED'}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"bare_worker_rss": bare_rss, "requests": figures}, indent=2) + "\n")
        print(f"\nFigures saved to {args.json}")


if __name__ == "__main__":
    main()
