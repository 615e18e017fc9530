"""The upload deadline: WSGI middleware that stops a request body from taking too long.

A client that sends its body a byte at a time holds a server thread for as
long as it likes, and a per-read socket timeout does not help: each read
gets its byte in time. So the deadline is for the whole body, from the
moment the server hands the request to the app. When it passes, the
reading side of the connection is shut down, which wakes the blocked read
with end-of-file; the answer (a 408, see app/uploads.py) can still be
written.
"""

import heapq
import itertools
import os
import socket
import threading
import time

ENVIRON_KEY = "digits.upload_deadline"
"""Where the middleware puts the request's UploadDeadline in the WSGI environ."""

SOCKET_KEY = "gunicorn.socket"
"""Where gunicorn puts the connection's socket in the WSGI environ."""


class UploadWatchdog:
    """One thread per process that shuts connections whose upload deadline has passed.

    A thread per request (threading.Timer) cost a few per cent of a
    /predict to start and stop; here a request only pushes its deadline onto
    a heap. The thread starts on first use. A forked process (a gunicorn
    worker of a preloaded master) inherits neither the thread nor a usable
    lock, so `reset` runs in every child after a fork.
    """

    def __init__(self):
        self.reset()

    def reset(self):
        """Forget every deadline and the thread: the state of a new process."""
        self._condition = threading.Condition()
        self._deadlines = []
        self._counter = itertools.count()
        self._thread = None

    def watch(self, deadline, seconds):
        """Call deadline.expire() after `seconds` unless it is cancelled first."""
        with self._condition:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="upload-watchdog", daemon=True)
                self._thread.start()
            heapq.heappush(self._deadlines, (time.monotonic() + seconds, next(self._counter), deadline))
            if self._deadlines[0][2] is deadline:
                self._condition.notify()

    def _run(self):
        condition, deadlines = self._condition, self._deadlines
        while True:
            with condition:
                while not deadlines or deadlines[0][0] > time.monotonic():
                    condition.wait(deadlines[0][0] - time.monotonic() if deadlines else None)
                _, _, deadline = heapq.heappop(deadlines)
            if not deadline.cancelled:
                deadline.expire()


_watchdog = UploadWatchdog()
os.register_at_fork(after_in_child=_watchdog.reset)


class UploadDeadline:
    """Shut the reading side of `sock` once `seconds` have passed, unless cancelled first.

    Without a socket, as in Flask's test client, there is no deadline.
    """

    def __init__(self, sock, seconds):
        self.expired = False
        self.cancelled = False
        self.seconds = seconds
        self._sock = sock

    def expire(self):
        """Shut the reading side of the connection; called by the watchdog."""
        self.expired = True
        try:
            self._sock.shutdown(socket.SHUT_RD)
        except OSError:
            pass  # the connection is already closed

    def cancel(self):
        """Keep the connection open: the body has been read."""
        self.cancelled = True

    def __enter__(self):
        if self._sock is not None:
            _watchdog.watch(self, self.seconds)
        return self

    def __exit__(self, *exc_info):
        self.cancel()


class UploadDeadlineMiddleware:
    """Give every request that has a body `seconds` for it to arrive.

    The app reads the deadline from environ[ENVIRON_KEY] (see
    `deadline_of`), cancels it once the body is read, and answers 408 if it
    expired first; whatever the app does, it is cancelled when the app returns.
    """

    def __init__(self, wsgi_app, seconds):
        self.wsgi_app = wsgi_app
        self.seconds = seconds

    def __call__(self, environ, start_response):
        sock = environ.get(SOCKET_KEY)
        if not environ.get("SERVER_PROTOCOL", "").startswith("HTTP/1."):
            sock = None  # an HTTP/2 connection carries other requests: never shut it
        if sock is None or not has_body(environ):
            return self.wsgi_app(environ, start_response)
        with UploadDeadline(sock, self.seconds) as deadline:
            environ[ENVIRON_KEY] = deadline
            return self.wsgi_app(environ, start_response)


def has_body(environ):
    """Say whether the request declares a body: a Content-Length above 0, or chunked."""
    length = environ.get("CONTENT_LENGTH", "")
    chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
    return chunked or length not in ("", "0")


def deadline_of(environ):
    """Return the request's UploadDeadline, or one that never expires when it has none."""
    deadline = environ.get(ENVIRON_KEY)
    return UploadDeadline(None, 0) if deadline is None else deadline
