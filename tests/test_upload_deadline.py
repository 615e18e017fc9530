"""The upload deadline: middleware gives each request body a time limit, and one
watchdog thread per process shuts the reading side of connections that overstay it."""

import socket
import subprocess
import sys
import textwrap
import threading

import pytest

from app.upload_deadline import ENVIRON_KEY, SOCKET_KEY, UploadDeadline, UploadDeadlineMiddleware, deadline_of
from bench.support.server import PROJECT_ROOT

SHORT_S = 0.05
LONG_S = 30.0
WAIT_S = 10.0
"""How long a test waits for something that should happen almost at once; not a speed check."""


@pytest.fixture()
def connection():
    """A connected pair of real sockets: (server side, client side)."""
    server, client = socket.socketpair()
    yield server, client
    server.close()
    client.close()


def wait_until(condition):
    event = threading.Event()
    for _ in range(int(WAIT_S / SHORT_S)):
        if condition():
            return True
        event.wait(SHORT_S)
    return condition()


def test_a_passed_deadline_shuts_the_reading_side(connection):
    server, _ = connection
    with UploadDeadline(server, SHORT_S) as deadline:
        assert server.recv(1) == b"", "the blocked read wakes with end-of-file"
    assert deadline.expired


def test_a_deadline_left_in_time_never_fires(connection):
    server, _ = connection
    with UploadDeadline(server, SHORT_S) as left_in_time:
        pass
    with UploadDeadline(server, SHORT_S) as overstayed:
        assert wait_until(lambda: overstayed.expired)
    assert not left_in_time.expired, "it fell due first, and was skipped"


def test_a_short_deadline_behind_a_long_one_fires_on_its_own_time(connection):
    server, _ = connection
    other_server, other_client = socket.socketpair()
    try:
        with UploadDeadline(other_server, LONG_S) as long_deadline:
            with UploadDeadline(server, SHORT_S) as short_deadline:
                assert wait_until(lambda: short_deadline.expired)
            assert not long_deadline.expired
    finally:
        other_server.close()
        other_client.close()


def test_without_a_socket_there_is_no_deadline():
    with UploadDeadline(None, SHORT_S) as deadline:
        threading.Event().wait(SHORT_S * 4)
    assert not deadline.expired


# The middleware


def request_environ(sock, protocol="HTTP/1.1", **headers):
    """A WSGI environ as gunicorn builds it for a request on `sock`."""
    return {"REQUEST_METHOD": "POST", "SERVER_PROTOCOL": protocol, SOCKET_KEY: sock, **headers}


def reading_app(environ, start_response):
    """A WSGI app that waits for one byte of the body from the socket, as a body read does."""
    environ["test.read"] = environ[SOCKET_KEY].recv(1)
    start_response("200 OK", [])
    return [b""]


@pytest.mark.parametrize("headers", [{"CONTENT_LENGTH": "1000"}, {"HTTP_TRANSFER_ENCODING": "chunked"}],
                         ids=["content_length", "chunked"])
def test_a_body_that_does_not_arrive_in_time_is_cut_off(connection, headers):
    server, _ = connection
    environ = request_environ(server, **headers)
    UploadDeadlineMiddleware(reading_app, SHORT_S)(environ, lambda *_: None)
    assert environ["test.read"] == b""
    assert deadline_of(environ).expired


def test_the_deadline_is_cancelled_when_the_app_returns(connection):
    server, client = connection
    environ = request_environ(server, CONTENT_LENGTH="1")
    client.sendall(b"x")
    UploadDeadlineMiddleware(reading_app, SHORT_S)(environ, lambda *_: None)
    assert environ["test.read"] == b"x"
    assert deadline_of(environ).cancelled and not deadline_of(environ).expired


@pytest.mark.parametrize(
    ("protocol", "headers"),
    [("HTTP/1.1", {}), ("HTTP/1.1", {"CONTENT_LENGTH": "0"}), ("HTTP/2", {"CONTENT_LENGTH": "1000"})],
    ids=["no_body", "empty_body", "http2_connection"],
)
def test_no_deadline_without_a_body_or_on_a_shared_connection(connection, protocol, headers):
    server, _ = connection
    environ = request_environ(server, protocol, **headers)
    UploadDeadlineMiddleware(lambda *_: [b""], SHORT_S)(environ, lambda *_: None)
    assert ENVIRON_KEY not in environ


def test_a_forked_process_gets_its_own_watchdog():
    """A gunicorn worker is forked from a master; the parent's watchdog thread does not come along."""
    script = textwrap.dedent(f"""
        import os, socket, sys
        from app.upload_deadline import UploadDeadline

        parent_side, _ = socket.socketpair()
        with UploadDeadline(parent_side, {SHORT_S}):
            parent_side.recv(1)  # the parent's watchdog thread is running
        pid = os.fork()
        if pid == 0:
            child_side, _ = socket.socketpair()
            child_side.settimeout({WAIT_S})
            try:
                with UploadDeadline(child_side, {SHORT_S}) as deadline:
                    child_side.recv(1)
            except TimeoutError:
                os._exit(1)
            os._exit(0 if deadline.expired else 2)
        sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
    """)
    result = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, timeout=WAIT_S * 2,
                            capture_output=True, text=True)
    assert result.returncode == 0, f"the child's deadline never fired: {result.stderr}"
