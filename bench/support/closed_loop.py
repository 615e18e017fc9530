"""A closed-loop HTTP load: keep-alive clients that each send their next request on the last answer.

The load generator is pure Python: asyncio streams speaking raw keep-alive
HTTP/1.1, so it runs wherever the tests run, without root, a compiler or a
third-party tool. Each virtual client holds one connection and sends its
next request as soon as it has read the previous answer (a closed loop), so
throughput is what the server sustains at that concurrency and latency runs
from writing the request to reading the answer's last byte.

wrk would cost less CPU per request, but it is not installed on CI-like
machines (installing it needs root), and sending a mix of bodies needs a Lua
script. A Python client on a small machine takes cores from the server, so
every level reports its client CPU and the server's CPU per request (read
by bench.support.processes): the server figure holds whatever the client costs, and the
client figure says how much the throughput figures are held back.
"""

import argparse
import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from bench.support.http import BOUNDARY_TEMPLATE, fresh_boundary, host_and_port
from bench.support.processes import processes_cpu_seconds

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


def parse_levels(text):
    """Parse "1,8,32" into (1, 8, 32), for argparse."""
    try:
        levels = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"concurrency levels must be integers like 1,8,32, got {text!r}") from None
    if min(levels) < 1:
        raise argparse.ArgumentTypeError(f"concurrency levels must be positive, got {text!r}")
    return levels
