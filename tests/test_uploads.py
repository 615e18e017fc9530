"""The upload deadline: one watchdog thread shuts the reading side of connections that are too slow."""

import socket
import threading

import pytest

from app.uploads import UploadDeadline

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
