"""Faults: slow clients, killed workers, refused headers, internal errors, logs.

Each test runs the real gunicorn from the Procfile (through the
start_server fixture) on its own loopback port, and bounds every wait:
a starved or hung server fails the test instead of stalling the run.
"""

import base64
import http.client
import json
import os
import runpy
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from app import create_app
from bench.support.digits import DIGIT_STROKES, digit_png
from bench.support.drawing import draw_png
from bench.support.server import PROJECT_ROOT, ServerStartError, free_port

ANSWER_BOUND_S = 10
"""Correctness bound, not a speed target: a request not answered by then is starved."""

SLOW_CLIENTS = 50
SLOW_BODY_LENGTH = 1_000
"""Each slow client declares this body and sends one byte of it a second."""

SETTLE_S = 2
"""Time for the server to accept every slow client and start reading its body."""

UPLOAD_TIMEOUT_S = 1
"""UPLOAD_TIMEOUT_SECONDS of the server with small limits."""

SMALL_UPLOAD_BYTES = 50_000
SMALL_IMAGE_PIXELS = 100_000


@pytest.fixture(scope="module")
def seven_png():
    return digit_png(7, "black")


def healthy(server):
    try:
        return server.wait_until_healthy()
    except ServerStartError as error:
        pytest.fail(str(error))


@pytest.fixture(scope="module")
def small_limits_server(start_server):
    """The Procfile's server with a 1 s upload timeout and small limits, all set by env vars."""
    return healthy(start_server({
        "UPLOAD_TIMEOUT_SECONDS": str(UPLOAD_TIMEOUT_S),
        "MAX_UPLOAD_BYTES": str(SMALL_UPLOAD_BYTES),
        "MAX_IMAGE_PIXELS": str(SMALL_IMAGE_PIXELS),
    }))


IMAGE_ENDPOINTS = ("/predict", "/predict/number")
"""Both read an upload with the same limits and deadline."""


def post(base_url, data, content_type="image/png", endpoint="/predict"):
    """POST to `endpoint`; return (status, JSON body). Fails the test if no answer comes in time."""
    request = urllib.request.Request(f"{base_url}{endpoint}", data=data, method="POST",
                                     headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=ANSWER_BOUND_S) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def worker_pids(server):
    """Return the pids of the gunicorn master's children, its workers.

    Reads /proc/<pid>/task/*/children, or each process's parent in
    /proc/*/stat where the kernel has no children files.
    """
    master = server.process.pid
    tasks = list(Path(f"/proc/{master}/task").iterdir())
    if all((task / "children").exists() for task in tasks):
        return {int(pid) for task in tasks for pid in (task / "children").read_text().split()}
    pids = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # the process ended meanwhile
        if int(fields[1]) == master:
            pids.add(int(stat.parent.name))
    return pids


def wait_for_workers(server, count, excluding=frozenset()):
    """Wait until the master has `count` workers, none of them in `excluding`; return their pids."""
    deadline = time.monotonic() + ANSWER_BOUND_S
    while time.monotonic() < deadline:
        pids = worker_pids(server)
        if len(pids) == count and not pids & excluding:
            return pids
        time.sleep(0.1)
    pytest.fail(f"gunicorn has workers {worker_pids(server)}, expected {count} new ones:\n{server.log()}")


def connect(server):
    return socket.create_connection(("127.0.0.1", server.port), timeout=ANSWER_BOUND_S)


def read_until_closed(connection):
    """Return everything the server sends until it closes the connection."""
    response = b""
    while chunk := connection.recv(65536):
        response += chunk
    return response


# Slow clients


def test_slow_clients_do_not_starve_the_others(start_server, seven_png):
    server = healthy(start_server())
    head = (b"POST /predict HTTP/1.1\r\nHost: localhost\r\nContent-Type: image/png\r\n"
            b"Content-Length: %d\r\n\r\n" % SLOW_BODY_LENGTH)
    slow = [connect(server) for _ in range(SLOW_CLIENTS)]
    stop = threading.Event()

    def drip():
        while not stop.is_set():
            for connection in slow:
                try:
                    connection.send(b"\0")
                except OSError:
                    pass
            stop.wait(1)

    for connection in slow:
        connection.sendall(head)
    dripper = threading.Thread(target=drip, daemon=True)
    dripper.start()
    try:
        time.sleep(SETTLE_S)
        answered_in = []
        for _ in range(5):
            started = time.monotonic()
            status, body = post(server.base_url, seven_png)
            answered_in.append(time.monotonic() - started)
            assert status == 200 and body["digit"] == 7
        print(f"with {SLOW_CLIENTS} slow clients, /predict answered in at most {max(answered_in):.3f} s")
        assert max(answered_in) < ANSWER_BOUND_S
    finally:
        stop.set()
        dripper.join(ANSWER_BOUND_S)
        for connection in slow:
            connection.close()


@pytest.mark.parametrize("endpoint", IMAGE_ENDPOINTS)
def test_a_body_slower_than_the_upload_timeout_gets_408_and_is_closed(small_limits_server, endpoint):
    with connect(small_limits_server) as connection:
        started = time.monotonic()  # before sending: the server's deadline cannot start earlier
        connection.sendall(b"POST %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: image/png\r\n"
                           b"Content-Length: %d\r\n\r\n\0" % (endpoint.encode(), SLOW_BODY_LENGTH))
        response = read_until_closed(connection)
        closed_after = time.monotonic() - started
    assert response.startswith(b"HTTP/1.1 408 "), response
    assert json.loads(response.partition(b"\r\n\r\n")[2])["error"]["code"] == "request_timeout"
    assert UPLOAD_TIMEOUT_S <= closed_after < ANSWER_BOUND_S, closed_after


# Limits from the environment


@pytest.mark.parametrize("endpoint", IMAGE_ENDPOINTS)
def test_the_upload_limit_comes_from_the_environment(small_limits_server, endpoint):
    status, body = post(small_limits_server.base_url, bytes(SMALL_UPLOAD_BYTES + 1), endpoint=endpoint)
    assert status == 413
    assert body["error"]["code"] == "payload_too_large"


@pytest.mark.parametrize("endpoint", IMAGE_ENDPOINTS)
def test_the_pixel_limit_comes_from_the_environment(small_limits_server, endpoint):
    side = 400
    assert side * side > SMALL_IMAGE_PIXELS
    big = draw_png(DIGIT_STROKES[7], "black", size=(side, side))
    status, body = post(small_limits_server.base_url, big, endpoint=endpoint)
    assert status == 422
    assert body["error"]["code"] == "too_many_pixels"


def test_the_openapi_document_states_the_limits_in_force(small_limits_server):
    with urllib.request.urlopen(f"{small_limits_server.base_url}/openapi.json",
                                timeout=ANSWER_BOUND_S) as response:
        text = json.dumps(json.load(response)["paths"]["/predict"]["post"])
    assert str(SMALL_UPLOAD_BYTES) in text and str(SMALL_IMAGE_PIXELS) in text


# Headers that gunicorn refuses itself


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Long: " + b"a" * 20_000 + b"\r\n\r\n", 431),
        (b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n"
         + b"".join(b"X-Field-%d: 1\r\n" % i for i in range(200)) + b"\r\n", 431),
        (b"GET /healthz?" + b"q" * 10_000 + b" HTTP/1.1\r\nHost: localhost\r\n\r\n", 414),
    ],
    ids=["one_long_header", "too_many_headers", "long_request_line"],
)
def test_oversized_headers_are_refused_by_gunicorn_and_the_workers_survive(small_limits_server, head, status):
    workers = worker_pids(small_limits_server)
    with connect(small_limits_server) as connection:
        connection.sendall(head)
        response = read_until_closed(connection)
    assert int(response.split(b" ", 2)[1]) == status
    with urllib.request.urlopen(f"{small_limits_server.base_url}/healthz", timeout=ANSWER_BOUND_S) as health:
        assert health.status == 200
    assert worker_pids(small_limits_server) == workers


# A killed worker


def test_a_killed_worker_is_replaced_and_no_later_request_fails(start_server, seven_png):
    server = healthy(start_server())
    workers = wait_for_workers(server, 2)
    stop = threading.Event()

    def load():
        while not stop.is_set():
            try:
                post(server.base_url, seven_png)
            except (OSError, http.client.HTTPException):
                pass  # a request in flight on the killed worker may fail, even mid-answer

    loader = threading.Thread(target=load, daemon=True)
    loader.start()
    try:
        time.sleep(0.3)
        victim = min(workers)
        os.kill(victim, signal.SIGKILL)
        answers = [post(server.base_url, seven_png) for _ in range(20)]
        assert [status for status, _ in answers] == [200] * 20
        assert {body["digit"] for _, body in answers} == {7}
        replaced = wait_for_workers(server, 2, excluding={victim})
        assert len(replaced & workers) == 1
    finally:
        stop.set()
        loader.join(ANSWER_BOUND_S)


# Internal errors and debug mode


def failing_app(test_config=None):
    """An app as production builds it, with one more route that fails."""
    app = create_app(test_config)

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret detail from deep inside")

    return app


@pytest.mark.parametrize("test_config", [None, {"DEBUG": True}], ids=["production", "debug_flag_set"])
def test_an_internal_error_is_a_json_500_without_the_traceback(test_config, caplog):
    response = failing_app(test_config).test_client().get("/boom")
    assert response.status_code == 500
    assert response.mimetype == "application/json"
    assert response.get_json() == {"error": {"code": "internal_error",
                                             "message": "The server failed to answer."}}
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and "secret detail" not in text
    assert "secret detail from deep inside" in caplog.text


def test_the_app_is_not_in_debug_mode_by_default(monkeypatch):
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    app = create_app()
    assert not app.debug and not app.testing


# Logs


def gunicorn_settings():
    return runpy.run_path(str(PROJECT_ROOT / "gunicorn.conf.py"))


def test_requests_are_logged_to_stdout(monkeypatch):
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.setenv(variable, os.environ.get(variable, "1"))  # the file sets these
    settings = gunicorn_settings()
    assert settings["accesslog"] == "-"  # gunicorn's name for stdout


def test_each_request_is_one_access_log_line_without_image_data(small_limits_server, seven_png):
    encoded = base64.b64encode(seven_png).decode("ascii")
    marker = f"logcheck-{time.monotonic_ns()}"
    request = urllib.request.Request(
        f"{small_limits_server.base_url}/predict?{marker}", method="POST",
        data=json.dumps({"image": f"data:image/png;base64,{encoded}"}).encode(),
        headers={"Content-Type": "application/json", "X-Request-Id": marker})
    with urllib.request.urlopen(request, timeout=ANSWER_BOUND_S) as response:
        assert response.status == 200
    deadline = time.monotonic() + ANSWER_BOUND_S
    while marker not in small_limits_server.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    log = small_limits_server.log()
    lines = [line for line in log.splitlines() if marker in line]
    assert len(lines) == 1, log
    assert '"POST /predict?' in lines[0] and " 200 " in lines[0]
    assert f"request_id={marker}" in lines[0]
    assert encoded[:40] not in log and encoded[-40:] not in log


def dev_server_log(paths):
    """Run `flask run` (Werkzeug's development server), request `paths`, and return what it logged."""
    port = free_port()
    command = [sys.executable, "-m", "flask", "--app", "app", "run", "--port", str(port)]
    server = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + ANSWER_BOUND_S
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).close()
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline and server.poll() is None, "flask run did not start"
                time.sleep(0.1)
        for path in paths:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=ANSWER_BOUND_S).close()
            except urllib.error.HTTPError as error:
                error.close()
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=ANSWER_BOUND_S)
    return output.decode()


def test_the_development_servers_log_is_plain_lines_without_colour_codes():
    log = dev_server_log(["/no/such/page"])
    assert "\x1b[" not in log, log
    assert "INFO werkzeug:" not in log, log
    lines = log.splitlines()
    assert any(line.startswith("WARNING: This is a development server.") for line in lines), log
    assert any(line.endswith('"GET /no/such/page HTTP/1.1" 404 -') for line in lines), log
