"""Shared fixtures: the app, its test client, the real server, data paths.

Drawings, encoders and request builders are in bench.support, shared with the benchmarks.
"""

import pytest

from app import create_app
from app.api import MODEL_KEY
from app.confidence import confidence_threshold
from app.storage import sqlite_url
from bench.support.server import PROJECT_ROOT, ProcfileServer, ServerStartError

pytest_plugins = ["tests.databases"]
"""The corrections tests' databases: SQLite, and PostgreSQL when TEST_DATABASE_URL is set."""

SHARED_DIR = PROJECT_ROOT.parent / "shared"
MNIST_DIR = SHARED_DIR / "mnist"
HANDWRITING_PATH = SHARED_DIR / "handwriting" / "unipen-dev.jsonl.gz"
OTHERS_PATH = SHARED_DIR / "handwriting" / "unipen-dev-other.jsonl.gz"


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    """The app as create_app() builds it, serving the committed model (its corrections in a temporary SQLite file)."""
    database = tmp_path_factory.mktemp("corrections") / "corrections.sqlite3"
    return create_app({"TESTING": True, "DATABASE_URL": sqlite_url(database)})


@pytest.fixture(scope="session")
def confident_from(app):
    """The top probability from which the served model's answers are called confident."""
    return confidence_threshold(app.extensions[MODEL_KEY])


@pytest.fixture()
def client(app):
    """A Flask test client for in-process requests."""
    return app.test_client()


@pytest.fixture(scope="session")
def mnist_dir():
    """The folder with the four MNIST IDX files, beside the project."""
    if not MNIST_DIR.is_dir():
        pytest.skip(f"MNIST data not found at {MNIST_DIR}")
    return MNIST_DIR


@pytest.fixture(scope="session")
def handwriting_path():
    """The UNIPEN pen trajectories, beside the project."""
    if not HANDWRITING_PATH.is_file():
        pytest.skip(f"handwriting data not found at {HANDWRITING_PATH}")
    return HANDWRITING_PATH


@pytest.fixture(scope="session")
def others_path():
    """The UNIPEN letters and symbols (drawings that are not digits), beside the project."""
    if not OTHERS_PATH.is_file():
        pytest.skip(f"non-digit data not found at {OTHERS_PATH}")
    return OTHERS_PATH


@pytest.fixture(scope="session")
def start_server(tmp_path_factory):
    """Return a function that starts the Procfile's web process on a free port.

    It returns the started, not yet healthy, ProcfileServer; every server
    started is stopped at the end of the session.
    """
    started = []

    def start(extra_env=None):
        folder = tmp_path_factory.mktemp("gunicorn")
        log_path = folder / "server.log"
        env = {"WEB_CONCURRENCY": "2", "DATABASE_URL": sqlite_url(folder / "corrections.sqlite3")}
        server = ProcfileServer(log_path, {**env, **(extra_env or {})})
        started.append(server.start())
        return server

    yield start

    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def live_server(start_server):
    """Base URL of the real gunicorn, started once for the whole session."""
    server = start_server()
    try:
        server.wait_until_healthy()
    except ServerStartError as error:
        pytest.fail(str(error))
    return server.base_url
