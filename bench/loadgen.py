"""What bench.serve and bench.load share: the drawings, a closed-loop HTTP load, the server's processes.

The load generator is pure Python: asyncio streams speaking raw keep-alive
HTTP/1.1, so it runs wherever the tests run, without root, a compiler or a
third-party tool. Each virtual client holds one connection and sends its
next request as soon as it has read the previous answer (a closed loop), so
throughput is what the server sustains at that concurrency and latency runs
from writing the request to reading the answer's last byte.

wrk would cost less CPU per request, but it is not installed on CI-like
machines (installing it needs root), and sending a mix of bodies needs a Lua
script. A Python client on a small machine takes cores from the server, so
every level reports its client CPU and the server's CPU per request, read
from /proc: the server figure holds whatever the client costs, and the
client figure says how much the throughput figures are held back.
"""

import argparse
import asyncio
import http.client
import itertools
import math
import os
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

from app.uploads import IMAGE_FIELD
from bench.support.drawing import draw_png
from model.constants import CANVAS_HEIGHT, PEN_WIDTH

# ---- Drawings -------------------------------------------------------------


def arc(cx, cy, rx, ry, start_deg, end_deg, step_deg=10):
    """Return points along an elliptic arc in canvas pixels.

    Angles are in degrees from 3 o'clock, growing clockwise on the screen
    (the canvas's y axis points down); the arc runs from start to end.
    """
    n_points = max(2, math.ceil(abs(end_deg - start_deg) / step_deg) + 1)
    angles = np.radians(np.linspace(start_deg, end_deg, n_points))
    return list(zip((cx + rx * np.cos(angles)).tolist(), (cy + ry * np.sin(angles)).tolist()))


DIGIT_STROKES = {
    0: [arc(140, 140, 52, 85, -100, 260)],
    1: [[(118, 80), (148, 55), (146, 228)]],
    2: [arc(140, 100, 50, 45, 200, 395) + [(92, 225), (198, 225)]],
    3: [arc(138, 98, 45, 40, 200, 450) + arc(138, 182, 52, 45, -90, 160)],
    4: [[(165, 55), (88, 168), (205, 168)], [(168, 105), (168, 230)]],
    5: [[(192, 58), (108, 58), (100, 132)] + arc(140, 172, 55, 50, -130, 150)],
    6: [arc(170, 160, 75, 100, 245, 180) + arc(138, 182, 45, 42, 180, -180)],
    7: [[(85, 62), (198, 62), (128, 232)]],
    8: [arc(140, 97, 40, 38, 90, 450), arc(140, 180, 50, 45, -90, 270)],
    9: [arc(135, 105, 45, 42, 0, -360) + [(172, 232)]],
}
"""One pen drawing of each digit on the 280×280 canvas: list of strokes of (x, y) points."""

CANVAS_MARGIN = 10
"""Pixels kept clear at the canvas edges when a varied drawing is moved."""


def vary_strokes(strokes, rng, scale=(0.55, 1.1), max_rotation_deg=12):
    """Return the strokes scaled, rotated and moved at random, still inside the canvas.

    People draw small or large, tilted, anywhere on the pad: each of those
    changes the crop and the resize that preprocessing does.
    """
    points = np.concatenate([np.asarray(stroke, dtype=float) for stroke in strokes])
    centre = points.mean(axis=0)
    factor = rng.uniform(*scale)
    angle = np.radians(rng.uniform(-max_rotation_deg, max_rotation_deg))
    rotation = factor * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    moved = [(np.asarray(stroke, dtype=float) - centre) @ rotation.T for stroke in strokes]
    low = np.concatenate(moved).min(axis=0)
    high = np.concatenate(moved).max(axis=0)
    lowest = CANVAS_MARGIN - low
    highest = CANVAS_HEIGHT - CANVAS_MARGIN - high
    offset = rng.uniform(lowest, np.maximum(lowest, highest))
    return [(stroke + offset).tolist() for stroke in moved]


def digit_png(digit, style="transparent", line_width=PEN_WIDTH, rng=None):
    """Return a 280×280 canvas PNG of `digit`, varied at random when `rng` is given."""
    strokes = DIGIT_STROKES[digit]
    if rng is not None:
        strokes = vary_strokes(strokes, rng)
    return draw_png(strokes, style, line_width=line_width)


NUMBER_GAP = 40
"""Drawing units between the points of two neighbouring digits of a composed number: over twice the pen, so they never touch."""


def number_png(digits, style="transparent", line_width=PEN_WIDTH):
    """Return a PNG of `digits` (e.g. "4271") written left to right, 280 units high and as wide as they need."""
    strokes, size = number_strokes(digits)
    return draw_png(strokes, style, line_width=line_width, size=size)


def number_strokes(digits):
    """Return (strokes, (width, height)) of `digits` written left to right, one unit a pixel.

    Each digit is DIGIT_STROKES's drawing, moved so that its points start
    NUMBER_GAP units after the previous digit's; the surface has a margin
    of NUMBER_GAP on both sides.
    """
    strokes, left = [], NUMBER_GAP
    for digit in digits:
        drawing = [np.asarray(stroke, dtype=float) for stroke in DIGIT_STROKES[int(digit)]]
        xs = np.concatenate([stroke[:, 0] for stroke in drawing])
        shift = np.array([left - xs.min(), 0.0])
        strokes += [(stroke + shift).tolist() for stroke in drawing]
        left += xs.max() - xs.min() + NUMBER_GAP
    return strokes, (math.ceil(left), CANVAS_HEIGHT)


# ---- HTTP requests ----------------------------------------------------------


BOUNDARY_PREFIX = b"----WebKitFormBoundary"
BOUNDARY_TEMPLATE = BOUNDARY_PREFIX + b"0" * 16
"""Stands for a multipart boundary in a prepared request; replaced by a fresh one at each send.

Browsers draw a new boundary for every form they post, and Werkzeug
compiles two regular expressions per boundary it has not seen, so a bench
that reused one boundary would flatter the server.
"""


class Request(NamedTuple):
    """One prepared request: what it is, its bytes on the wire, and the status it must get.

    fresh_boundary : the bytes hold BOUNDARY_TEMPLATE, to be replaced at each send.
    """

    kind: str
    raw: bytes
    expected_status: int | None = None
    fresh_boundary: bool = False


JSON_ACCEPT = {"Accept": "application/json"}


def http_request(method, path, body=b"", content_type=None, host="127.0.0.1", headers=JSON_ACCEPT):
    """Return the bytes of an HTTP/1.1 request (keep-alive is HTTP/1.1's default).

    headers : name → value, sent after Host and before Content-Type and Content-Length.
    """
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if content_type is not None:
        lines.append(f"Content-Type: {content_type}")
    if body or method in {"POST", "PUT"}:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def multipart_body(data, filename="digit.png", mimetype="image/png", fields=None):
    """Return (body, content type) of a form with `data` as the file field "image", as the page's FormData.

    `fields` maps the names of other (text) fields to their values. The
    boundary is BOUNDARY_TEMPLATE: replace it with `fresh_boundary()` before sending.
    """
    boundary = BOUNDARY_TEMPLATE.decode("latin-1")
    head = "".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in (fields or {}).items()
    ).encode("latin-1") + (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="{IMAGE_FIELD}"; filename="{filename}"\r\n'
        f"Content-Type: {mimetype}\r\n\r\n"
    ).encode("latin-1")
    tail = f"\r\n--{boundary}--\r\n".encode("latin-1")
    return head + data + tail, f"multipart/form-data; boundary={boundary}"


def multipart_request(path, data, filename="digit.png", mimetype="image/png", fields=None):
    """Return the bytes of a form POST of `data` (and text `fields`), its boundary still BOUNDARY_TEMPLATE."""
    return http_request("POST", path, *multipart_body(data, filename, mimetype, fields))


_boundaries = itertools.count(int.from_bytes(os.urandom(6), "big"))


def fresh_boundary():
    """Return a boundary never used before in this process, as long as BOUNDARY_TEMPLATE."""
    return BOUNDARY_PREFIX + b"%016x" % next(_boundaries)


# ---- The closed-loop load ---------------------------------------------------

PERCENTILES = (50, 90, 99)
REQUEST_TIMEOUT_S = 30
RECONNECT_PAUSE_S = 0.05
"""Pause after a failed connect, so that a dead server is not hammered in a loop."""

MAX_HEAD_BYTES = 64 * 1024
EXAMPLE_BODY_CHARS = 300
"""How much of an unexpected answer's body is kept to show."""

SERVER_ERROR = 500


class ProtocolError(Exception):
    """The server's answer is not HTTP/1.1 as this client reads it."""


async def read_response(reader):
    """Read one answer; return (status, body bytes, whether the server closes the connection)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, _, header_block = head.partition(b"\r\n")
    parts = status_line.split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise ProtocolError(f"bad status line {status_line[:80]!r}")
    length = None
    closes = parts[0] == b"HTTP/1.0"
    for line in header_block.lower().split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name == b"content-length":
            length = int(value)
        elif name == b"connection":
            closes = value.strip() == b"close"
        elif name == b"transfer-encoding" and value.strip() != b"identity":
            raise ProtocolError("chunked answers are not read by this client")
    if length is None:
        body = await reader.read()
        closes = True
    else:
        body = await reader.readexactly(length)
    return int(parts[1]), body, closes


@dataclass
class LevelResult:
    """What one run at one concurrency measured."""

    concurrency: int
    seconds: float = 0.0
    statuses: Counter = field(default_factory=Counter)
    """(kind, status) → number of answers."""
    latencies: dict = field(default_factory=dict)
    """kind → list of latencies in seconds."""
    connection_errors: int = 0
    unexpected: Counter = field(default_factory=Counter)
    """(kind, status) → answers whose status is not the one the request must get."""
    examples: dict = field(default_factory=dict)
    """A description of the first connection error, and the body of the first 5xx or unexpected answer."""
    client_cpu_s: float = 0.0
    server_cpu_s: float | None = None

    @property
    def n_requests(self):
        return sum(self.statuses.values())

    @property
    def throughput(self):
        """Answers per second."""
        return self.n_requests / self.seconds if self.seconds else 0.0

    @property
    def server_errors(self):
        return sum(count for (_, status), count in self.statuses.items() if status >= SERVER_ERROR)

    def status_counts(self):
        """Return status → number of answers, all kinds together."""
        counts = Counter()
        for (_, status), count in self.statuses.items():
            counts[status] += count
        return counts

    def latency_ms(self, kinds=None, percentiles=PERCENTILES):
        """Return the latency percentiles in milliseconds, of the given kinds or of all."""
        values = [
            latency
            for kind, latencies in self.latencies.items()
            if kinds is None or kind in kinds
            for latency in latencies
        ]
        if not values:
            return [float("nan")] * len(percentiles)
        return (np.percentile(values, percentiles) * 1000).tolist()

    def client_cpu_per_request_us(self):
        return self.client_cpu_s / max(self.n_requests, 1) * 1e6

    def server_cpu_per_request_ms(self):
        if self.server_cpu_s is None:
            return float("nan")
        return self.server_cpu_s / max(self.n_requests, 1) * 1000

    def summary(self):
        """Return the figures as a JSON-ready dict."""
        return {
            "concurrency": self.concurrency,
            "seconds": self.seconds,
            "requests": self.n_requests,
            "throughput_rps": self.throughput,
            "latency_ms": dict(zip((f"p{p}" for p in PERCENTILES), self.latency_ms())),
            "latency_ms_by_kind": {
                kind: dict(zip((f"p{p}" for p in PERCENTILES), self.latency_ms({kind})))
                for kind in sorted(self.latencies)
            },
            "statuses": {f"{kind} {status}": count for (kind, status), count in sorted(self.statuses.items())},
            "connection_errors": self.connection_errors,
            "server_errors": self.server_errors,
            "unexpected": {f"{kind} {status}": count for (kind, status), count in sorted(self.unexpected.items())},
            "examples": self.examples,
            "client_cpu_s": self.client_cpu_s,
            "client_cpu_us_per_request": self.client_cpu_per_request_us(),
            "server_cpu_s": self.server_cpu_s,
            "server_cpu_ms_per_request": self.server_cpu_per_request_ms(),
        }


def combined(results):
    """Return runs at one concurrency as a single LevelResult, as if they had been one run."""
    total = LevelResult(results[0].concurrency)
    for result in results:
        total.seconds += result.seconds
        total.statuses.update(result.statuses)
        for kind, latencies in result.latencies.items():
            total.latencies.setdefault(kind, []).extend(latencies)
        total.connection_errors += result.connection_errors
        total.unexpected.update(result.unexpected)
        for key, example in result.examples.items():
            total.examples.setdefault(key, example)
        total.client_cpu_s += result.client_cpu_s
    server_cpu = [result.server_cpu_s for result in results]
    total.server_cpu_s = None if None in server_cpu else sum(server_cpu)
    return total


class _Load:
    """The shared state of one run's clients: the request schedule and the tallies."""

    def __init__(self, requests, result, timeout, max_requests=None):
        self.requests = requests
        self.result = result
        self.timeout = timeout
        self.max_requests = max_requests
        self.next_index = 0
        self.stopping = False

    def next_request(self):
        """Return the next request of the schedule, or None once `max_requests` have been sent."""
        if self.max_requests is not None and self.next_index >= self.max_requests:
            return None
        request = self.requests[self.next_index % len(self.requests)]
        self.next_index += 1
        return request

    def connection_error(self, error):
        self.result.connection_errors += 1
        self.result.examples.setdefault("connection_error", repr(error))

    def record(self, request, status, body, latency):
        result = self.result
        result.statuses[request.kind, status] += 1
        result.latencies.setdefault(request.kind, []).append(latency)
        wrong = request.expected_status is not None and status != request.expected_status
        if wrong:
            result.unexpected[request.kind, status] += 1
        if wrong or status >= SERVER_ERROR:
            text = body[:EXAMPLE_BODY_CHARS].decode("utf-8", "replace")
            result.examples.setdefault(f"{request.kind} {status}", text)


async def _client(load, host, port):
    reader = writer = None
    while not load.stopping:
        if writer is None:
            try:
                reader, writer = await asyncio.open_connection(host, port)
            except OSError as error:
                load.connection_error(error)
                await asyncio.sleep(RECONNECT_PAUSE_S)
                continue
        request = load.next_request()
        if request is None:
            break
        raw = request.raw
        if request.fresh_boundary:
            raw = raw.replace(BOUNDARY_TEMPLATE, fresh_boundary())
        started = time.perf_counter()
        try:
            async with asyncio.timeout(load.timeout):
                writer.write(raw)
                status, body, closes = await read_response(reader)
        except (OSError, EOFError, TimeoutError, ValueError, ProtocolError) as error:
            # asyncio's IncompleteReadError is an EOFError, its LimitOverrunError a ValueError.
            load.connection_error(error)
            writer.close()
            writer = None
            continue
        load.record(request, status, body, time.perf_counter() - started)
        if closes:
            writer.close()
            writer = None
    if writer is not None:
        writer.close()


async def _run(host, port, requests, concurrency, seconds, max_requests, server_pids, timeout):
    result = LevelResult(concurrency)
    load = _Load(requests, result, timeout, max_requests)
    cpu_before = time.process_time()
    server_before = processes_cpu_seconds(server_pids) if server_pids else None
    started = time.perf_counter()
    clients = [asyncio.create_task(_client(load, host, port)) for _ in range(concurrency)]
    if seconds is not None:
        await asyncio.wait(clients, timeout=seconds)
        load.stopping = True
    await asyncio.gather(*clients)
    result.seconds = time.perf_counter() - started
    result.client_cpu_s = time.process_time() - cpu_before
    if server_pids:
        result.server_cpu_s = processes_cpu_seconds(server_pids) - server_before
    return result


def run_level(
    base_url, requests, concurrency, seconds=None, max_requests=None, server_pids=(), timeout=REQUEST_TIMEOUT_S
):
    """Send `requests` in turn from `concurrency` keep-alive clients; return a LevelResult.

    The run lasts `seconds`, or until `max_requests` have been sent, whichever
    comes first. server_pids : processes whose CPU time is measured over the
    run (the gunicorn master and its workers).
    """
    if seconds is None and max_requests is None:
        raise ValueError("give seconds, max_requests or both, or the run never ends")
    host, port = host_and_port(base_url)
    return asyncio.run(
        _run(host, port, list(requests), concurrency, seconds, max_requests, list(server_pids), timeout)
    )


def host_and_port(base_url):
    """Split "http://host:port" into (host, port)."""
    parts = urllib.parse.urlsplit(base_url)
    if parts.scheme != "http" or parts.hostname is None:
        raise ValueError(f"the load generator speaks plain http://host:port, got {base_url!r}")
    return parts.hostname, parts.port or 80


# ---- The server's processes -------------------------------------------------

PROC = Path("/proc")
CLOCK_TICKS_PER_S = os.sysconf("SC_CLK_TCK")
KIB = 1024
MIB = 1024 * 1024


def child_pids(pid):
    """Return the ids of the processes whose parent is `pid` (gunicorn's workers)."""
    children_file = PROC / str(pid) / "task" / str(pid) / "children"
    try:
        return sorted(int(child) for child in children_file.read_text().split())
    except OSError:
        pass
    children = []
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                children.append(int(entry.name))
    return sorted(children)


def process_cpu_seconds(pid):
    """Return the user plus system CPU time a process has used, in seconds."""
    fields = (PROC / str(pid) / "stat").read_text().rpartition(")")[2].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / CLOCK_TICKS_PER_S


def processes_cpu_seconds(pids):
    return sum(process_cpu_seconds(pid) for pid in pids)


def process_memory(pid):
    """Return {"rss", "pss", "uss"} of a process in bytes (PSS and USS None where unreadable).

    RSS counts every page the process maps, including those it shares with
    gunicorn's master after the fork (preload_app); PSS divides shared pages
    among the processes that share them, so the PSS of all of a dyno's
    processes adds up to what they really use; USS counts only the pages
    the process alone holds, what one more worker would add.
    """
    memory = {"rss": None, "pss": None, "uss": None}
    for line in (PROC / str(pid) / "status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            memory["rss"] = int(line.split()[1]) * KIB
    try:
        rollup = (PROC / str(pid) / "smaps_rollup").read_text().splitlines()
    except OSError:
        return memory
    values = {}
    for line in rollup:
        name, _, rest = line.partition(":")
        if rest.strip().endswith("kB"):
            values[name] = int(rest.split()[0]) * KIB
    memory["pss"] = values.get("Pss")
    if "Private_Clean" in values and "Private_Dirty" in values:
        memory["uss"] = values["Private_Clean"] + values["Private_Dirty"]
    return memory


def wait_for_workers(master_pid, n_workers, timeout=30):
    """Wait until gunicorn's master has `n_workers` children; return their ids."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        workers = child_pids(master_pid)
        if len(workers) >= n_workers:
            return workers
        time.sleep(0.05)
    raise RuntimeError(f"gunicorn has {len(child_pids(master_pid))} workers, expected {n_workers}")


def seconds_to_first_answer(server, path="/healthz", timeout=30, poll_s=0.005):
    """Start `server` (a ProcfileServer) and return the seconds until it first answers 200 on `path`."""
    host, port = host_and_port(server.base_url)
    started = time.perf_counter()
    server.start()
    deadline = started + timeout
    while time.perf_counter() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.process.returncode}:\n{server.log()}")
        connection = http.client.HTTPConnection(host, port, timeout=timeout)
        try:
            connection.request("GET", path)
            if connection.getresponse().status == 200:
                return time.perf_counter() - started
        except OSError:
            pass
        finally:
            connection.close()
        time.sleep(poll_s)
    raise RuntimeError(f"gunicorn did not answer in {timeout} s:\n{server.log()}")


# ---- Printing ---------------------------------------------------------------


def format_table(header, rows):
    """Return rows of cells as text, the first column left-aligned and the others right-aligned."""
    cells = [list(map(str, header))] + [[str(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]

    def line(row):
        return "  ".join(
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths))
        )

    return "\n".join([line(cells[0]), line(["-" * width for width in widths])] + [line(row) for row in cells[1:]])


def parse_levels(text):
    """Parse "1,8,32" into (1, 8, 32), for argparse."""
    try:
        levels = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"concurrency levels must be integers like 1,8,32, got {text!r}") from None
    if min(levels) < 1:
        raise argparse.ArgumentTypeError(f"concurrency levels must be positive, got {text!r}")
    return levels
