"""Start the real web process from the Procfile, for tests and benchmarks.

The server is gunicorn run from the project root with the repository's
gunicorn.conf.py and `PORT` set, exactly as Heroku runs it. Another
checkout of the project (a baseline revision, for a before/after benchmark)
is served the same way from its own root, with this interpreter's packages.
"""

import contextlib
import http.client
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]

SERVER_START_TIMEOUT_S = 30
"""How long the real server may take to answer /healthz."""

SERVER_STOP_TIMEOUT_S = 10
"""How long gunicorn may take to exit after SIGTERM."""

HEALTH_POLL_INTERVAL_S = 0.1


class ServerStartError(RuntimeError):
    """The server exited or did not answer in time; the message holds its log."""


def procfile_command(process_type="web", root=PROJECT_ROOT):
    """Return the command for `process_type` in the Procfile of the project at `root`, as an argument list."""
    for line in (Path(root) / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() == process_type:
            return shlex.split(command)
    raise LookupError(f"Procfile has no {process_type!r} process")


def free_port():
    """Ask the OS for a TCP port that nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def with_app_spec(command, app_spec):
    """Return the gunicorn command with its app (the last argument) replaced by `app_spec`."""
    if not command or command[-1].startswith("-"):
        raise ValueError(f"the command does not end with an app to replace: {command}")
    return [*command[:-1], app_spec]


class ProcfileServer:
    """The Procfile's web process on a free loopback port.

    Use as a context manager, or call `start` and `stop`. `base_url` is set
    once started; the combined stdout and stderr go to `log_path`.
    `app_spec` (e.g. "bench.bare_app:create_app()") serves another app with
    the same command and gunicorn.conf.py, for benchmarks. `root` serves
    another checkout of the project, with its own Procfile and gunicorn.conf.py.
    """

    def __init__(self, log_path, extra_env=None, app_spec=None, root=PROJECT_ROOT):
        self.log_path = Path(log_path)
        self.extra_env = dict(extra_env or {})
        self.root = Path(root)
        self.command = procfile_command(root=self.root)
        if app_spec is not None:
            self.command = with_app_spec(self.command, app_spec)
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.process = None
        self._log_file = None

    def start(self):
        """Start gunicorn; return without waiting for it to answer."""
        venv_bin = str(Path(sys.executable).parent)
        env = {
            **os.environ,
            "PATH": venv_bin + os.pathsep + os.environ.get("PATH", ""),
            "PORT": str(self.port),
            **self.extra_env,
        }
        self._log_file = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            self.command,
            cwd=self.root,
            env=env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        return self

    def wait_until_healthy(self, timeout=SERVER_START_TIMEOUT_S):
        """Poll /healthz until it answers 200; raise ServerStartError if the server died or hung."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerStartError(
                    f"gunicorn exited with {self.process.returncode}:\n{self.log()}"
                )
            try:
                with urllib.request.urlopen(f"{self.base_url}/healthz", timeout=1) as response:
                    if response.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(HEALTH_POLL_INTERVAL_S)
        raise ServerStartError(f"gunicorn did not answer in {timeout} s:\n{self.log()}")

    def log(self):
        """Return what the server has written so far."""
        self._log_file.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self):
        """Stop gunicorn gracefully (SIGTERM), killing it if it does not exit in time."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=SERVER_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log_file is not None:
            self._log_file.close()

    def __enter__(self):
        self.start()
        try:
            return self.wait_until_healthy()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc_info):
        self.stop()


@contextlib.contextmanager
def server_url(url=None, name="bench"):
    """Yield the base URL of a running server: `url` if given, else a Procfile server started for the block."""
    if url:
        yield url.rstrip("/")
        return
    log_path = Path(tempfile.mkdtemp(prefix=f"{name}-")) / "gunicorn.log"
    print(f"Starting the Procfile's gunicorn (log: {log_path})", flush=True)
    with ProcfileServer(log_path) as server:
        yield server.base_url


FIRST_ANSWER_POLL_S = 0.005
"""Poll often: the time to the first answer is itself the figure measured."""


def seconds_to_first_answer(server, path="/healthz", timeout=SERVER_START_TIMEOUT_S, poll_s=FIRST_ANSWER_POLL_S):
    """Start `server` (a ProcfileServer) and return the seconds until it first answers 200 on `path`."""
    started = time.perf_counter()
    server.start()
    deadline = started + timeout
    while time.perf_counter() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.process.returncode}:\n{server.log()}")
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
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
