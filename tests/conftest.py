"""Shared fixtures: the app, its test client, the real server, data paths."""

import io

import pytest

from app import create_app
from app.storage import sqlite_url
from bench.support.drawing import encode_style, png_of
from bench.support.server import PROJECT_ROOT, ProcfileServer, ServerStartError
from model.constants import CANVAS_HEIGHT
from model.training.handwriting import render_strokes

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


@pytest.fixture()
def client(app):
    """A Flask test client for in-process requests."""
    return app.test_client()


@pytest.fixture(scope="session")
def png_bytes():
    """Return a function that encodes a Pillow image as PNG bytes."""

    def encode(image, format="PNG", **params):
        buffer = io.BytesIO()
        image.save(buffer, format=format, **params)
        return buffer.getvalue()

    return encode


GLYPHS = {
    "0": [[(140, 40), (200, 80), (200, 200), (140, 240), (80, 200), (80, 80), (140, 40)]],
    "1": [[(140, 40), (140, 240)]],
    "2": [[(85, 90), (110, 55), (170, 55), (200, 95), (185, 140), (85, 235), (210, 235)]],
    "4": [[(170, 40), (80, 170), (210, 170)], [(175, 90), (175, 245)]],
    "7": [[(80, 60), (200, 60), (120, 230)]],
}
"""Pen strokes of a few clear digits, each in a 280×280 cell of drawing units."""

GLYPH_ADVANCE = 150
"""Horizontal distance between the cells of neighbouring digits: a clear gap between them."""

GLYPH_MARGIN = 60
"""Blank drawing units left of the first glyph's cell (its strokes start about 80 in)."""


def glyph_strokes(text, advance=GLYPH_ADVANCE):
    """Return the strokes of `text` (digits of GLYPHS) written left to right."""
    strokes = []
    for position, character in enumerate(text):
        shift = position * advance - GLYPH_MARGIN
        strokes += [[(x + shift, y) for x, y in stroke] for stroke in GLYPHS[character]]
    return strokes


@pytest.fixture(scope="session")
def number_png():
    """Return a function that draws a number as the page would: PNG bytes, 280 px high."""

    def draw(text, style="transparent", advance=GLYPH_ADVANCE):
        width = GLYPH_MARGIN + advance * len(text)
        ink = render_strokes(glyph_strokes(text, advance), size=(width, CANVAS_HEIGHT))
        return png_of(encode_style(ink, style))

    return draw


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
