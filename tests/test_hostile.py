"""Drawings of thousands of marks cost the server a bounded time and memory, and read as what they are.

A PNG of noise, a dot grid, hatching or confetti holds tens of thousands
of marks within every documented limit; they once made the segmenter
build arrays over every pair of marks (gigabytes, a dead worker). Every
class of bench.support.hostile, at a small size and at the largest the
upload limits allow, is sent to the real gunicorn on both image endpoints:
each is answered, by a reading or by 422 too_many_digits, before a
generous guard against hangs (bench.hostile measures the time). In process,
the memory a reading allocates is held to a constant plus a few bytes per
pixel, whatever the image holds, and the classes read as they should:
specks are ignored, a dot grid is too many digits.
"""

import http.client
import json
import tracemalloc
from pathlib import Path

import pytest

import model
from bench.support.hostile import HOSTILE_CLASSES, HOSTILE_SIZES, OPAQUE_NOISES
from model.constants import DEFAULT_MODEL_PATH, N_CLASSES
from model.preprocess import InputImageError, NoInkError
from model.recognise import recognise_digit, recognise_number
from model.segment import TooManyDigitsError

HANG_GUARD_S = 60
"""A request still unanswered after this long hangs: far above the benchmark's 1 s target, for a busy machine."""

SMALL_SIDE = {name: min(sides) for name, sides in HOSTILE_SIZES.items()}
LARGE_SIDE = {name: max(sides) for name, sides in HOSTILE_SIZES.items()}

PATHS = ("/predict", "/predict?preview=1", "/predict/number", "/predict/number?preview=1")
"""Both image endpoints, with and without the network's input in the answer."""

FIXED_BYTES = 16 * 2**20
BYTES_PER_PIXEL = 32
"""Memory a reading may allocate: this much, plus this per pixel of the image (about 18 are used).

Arrays over every pair of marks took over 9,000 bytes a pixel on 300×300 noise."""


def _cases(sides, paths):
    return [pytest.param(name, sides[name], path, id=f"{name}-{sides[name]}-{path}")
            for name in HOSTILE_CLASSES for path in paths]


@pytest.fixture(scope="module")
def hostile_server(start_server):
    """The Procfile's gunicorn, started for this module."""
    return start_server().wait_until_healthy()


@pytest.fixture(scope="module")
def served_model():
    return model.load(DEFAULT_MODEL_PATH)


def post_png(server, path, png):
    """POST a PNG body to the real server; return (status, JSON body)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=HANG_GUARD_S)
    try:
        connection.request("POST", path, body=png, headers={"Content-Type": "image/png"})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def worker_pids(server):
    """Return the ids of gunicorn's workers, the children of its master."""
    pid = server.process.pid
    return sorted(Path(f"/proc/{pid}/task/{pid}/children").read_text().split())


def assert_read_or_too_many(name, path, status, body):
    """Assert a reading of the endpoint at `path`, 422 too_many_digits from the number reader, or 422 no_ink
    where an opaque noise holds no ink on paper."""
    if status == 422 and name in OPAQUE_NOISES and body["error"]["code"] == "no_ink":
        return
    if status == 422 and path.startswith("/predict/number"):
        assert body["error"]["code"] == "too_many_digits", body
        return
    assert status == 200, body
    readings = body["digits"] if path.startswith("/predict/number") else [body]
    assert readings and all(len(reading["probabilities"]) == N_CLASSES for reading in readings)
    assert all(("preview" in reading) == path.endswith("preview=1") for reading in readings)


@pytest.mark.parametrize(("name", "side", "path"), _cases(SMALL_SIDE, PATHS) + _cases(LARGE_SIDE, PATHS[1::2]))
def test_a_drawing_of_thousands_of_marks_is_read_or_refused_as_too_many_digits(hostile_server, name, side, path):
    status, body = post_png(hostile_server, path, HOSTILE_CLASSES[name](side))
    assert_read_or_too_many(name, path, status, body)


def test_the_workers_outlive_the_largest_hostile_drawings(hostile_server):
    before = worker_pids(hostile_server)
    for name in ("colour_noise", "bit_noise", "dot_grid"):
        post_png(hostile_server, "/predict/number", HOSTILE_CLASSES[name](LARGE_SIDE[name]))
    assert worker_pids(hostile_server) == before
    assert "WORKER TIMEOUT" not in hostile_server.log() and "SIGKILL" not in hostile_server.log()


def peak_allocated(read, png, served_model):
    """Return the most memory that reading `png` held at once, in bytes, as tracemalloc counts NumPy's arrays."""
    tracemalloc.start()
    try:
        read(png, served_model)
    except (TooManyDigitsError, NoInkError):
        pass
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak


@pytest.mark.parametrize(("name", "side"), [(name, side) for name, sides in HOSTILE_SIZES.items() for side in sides])
def test_reading_a_number_allocates_memory_linear_in_the_pixels(served_model, name, side):
    peak = peak_allocated(recognise_number, HOSTILE_CLASSES[name](side), served_model)
    assert peak <= FIXED_BYTES + BYTES_PER_PIXEL * side * side, f"{peak:,} bytes"


@pytest.mark.parametrize("name", sorted(HOSTILE_CLASSES))
def test_reading_a_digit_allocates_memory_linear_in_the_pixels(served_model, name):
    side = SMALL_SIDE[name]
    peak = peak_allocated(recognise_digit, HOSTILE_CLASSES[name](side), served_model)
    assert peak <= FIXED_BYTES + BYTES_PER_PIXEL * side * side, f"{peak:,} bytes"


@pytest.mark.parametrize("side", HOSTILE_SIZES["specks"])
def test_specks_around_a_digit_are_ignored(served_model, side):
    readings = recognise_number(HOSTILE_CLASSES["specks"](side), served_model)
    assert [int(reading.probabilities.argmax()) for reading in readings] == [7]


@pytest.mark.parametrize("side", HOSTILE_SIZES["dot_grid"])
def test_a_dot_grid_is_too_many_digits(served_model, side):
    with pytest.raises(TooManyDigitsError):
        recognise_number(HOSTILE_CLASSES["dot_grid"](side), served_model)


@pytest.mark.parametrize("name", ["noise", "hatching", "crosshatch"])
def test_a_texture_filling_the_image_reads_as_one_mark(served_model, name):
    try:
        readings = recognise_number(HOSTILE_CLASSES[name](SMALL_SIDE[name]), served_model)
    except InputImageError as error:
        pytest.fail(f"{type(error).__name__}: {error}")
    assert len(readings) == 1
