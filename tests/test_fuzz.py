"""Property-based tests: random bytes and random images never crash preprocessing
nor the reading of a number, pictures of thousands of marks (dot grids,
scattered dots, hatching, noise) read as a number or too many digits in
memory linear in their pixels, and neither image endpoint (/predict,
/predict/number) ever answers 5xx nor strays from its OpenAPI document.

The number of examples is kept small enough for CI (the whole module runs in
a few seconds); set FUZZ_EXAMPLES to run more, e.g. `FUZZ_EXAMPLES=2000
pytest tests/test_fuzz.py`. By default the examples are derandomised so that
CI is reproducible; with FUZZ_EXAMPLES set they are random, to explore. No
example database is written into the work tree.
How many cases each test ran is printed at the end of the session.
"""

import os
import tempfile
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import model
from app import create_app
from app.corrections import strokes_from
from app.errors import ApiError
from app.storage import sqlite_url
from bench.support.drawing import encode_image
from bench.support.hostile import canvas_of
from model.constants import IMAGE_SIDE, N_CLASSES
from model.preprocess import InputImageError, decode_image, ink_intensity, preprocess
from model.recognise import recognise_number
from model.segment import TooManyDigitsError

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "100"))
"""Examples per property; the API fuzzing runs this many per operation."""

FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize="FUZZ_EXAMPLES" not in os.environ,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

MAX_SIDE = 96
"""Largest side of a random image: big enough for every code path, small enough to be quick."""

STRIP_LENGTH = 5_000
"""Some images are one-pixel strips this long instead."""

FORMAT_MODES = {
    "PNG": ("1", "L", "LA", "I;16", "P", "RGB", "RGBA"),
    "JPEG": ("L", "RGB", "CMYK"),
    "GIF": ("L", "P"),
    "BMP": ("1", "L", "P", "RGB", "RGBA"),
    "WEBP": ("RGB", "RGBA"),
}
"""Modes that each accepted format can store, as Pillow writes them."""

TRANSPARENCY_KEYS = {"1": 1, "L": 255, "I;16": 65535, "P": 0, "RGB": (255, 255, 255)}
"""A colour to mark transparent (a tRNS chunk) in modes without alpha."""

CASES_RUN = {}
"""Examples run per test, printed when the module is done."""


@pytest.fixture(scope="module", autouse=True)
def report_cases_run(request):
    """Print how many cases each fuzz test ran, for the CI log."""
    yield
    plugins = request.config.pluginmanager
    reporter = plugins.get_plugin("terminalreporter")
    capture = plugins.get_plugin("capturemanager")
    if reporter is None or capture is None or not CASES_RUN:
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line("")
        for name, count in CASES_RUN.items():
            reporter.write_line(f"fuzz: {name} ran {count} cases")


def count_case(name):
    CASES_RUN[name] = CASES_RUN.get(name, 0) + 1


def assert_network_input(digit):
    """Assert the documented output of preprocess: (28, 28) float32 in [0, 1]."""
    assert digit.shape == (IMAGE_SIDE, IMAGE_SIDE)
    assert digit.dtype == np.float32
    assert np.all(np.isfinite(digit))
    assert digit.min() >= 0 and digit.max() <= 1


def preprocess_or_input_error(data, **kwargs):
    """Run preprocess; return its output, or None if it raised a documented InputImageError."""
    try:
        return preprocess(data, **kwargs)
    except InputImageError:
        return None


@st.composite
def images(draw):
    """Draw a random Pillow image: any mode, size and polarity, strokes or noise."""
    image_format = draw(st.sampled_from(sorted(FORMAT_MODES)))
    mode = draw(st.sampled_from(FORMAT_MODES[image_format]))
    width, height = draw(st.one_of(
        st.tuples(st.integers(1, MAX_SIDE), st.integers(1, MAX_SIDE)),
        st.sampled_from([(STRIP_LENGTH, 1), (1, STRIP_LENGTH)]),
    ))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    background = draw(st.sampled_from([0.0, 1.0, rng.random()]))
    ink = np.full((height, width), background, dtype=np.float32)
    style = draw(st.sampled_from(["noise", "rectangle", "blank"]))
    if style == "noise":
        ink = rng.random((height, width), dtype=np.float32)
    elif style == "rectangle":
        top, left = rng.integers(0, height), rng.integers(0, width)
        ink[top : rng.integers(top, height) + 1, left : rng.integers(left, width) + 1] = 1 - background
    alpha = None
    if mode in {"LA", "RGBA"}:
        alpha = draw(st.sampled_from(["opaque", "ink", "noise"]))
    image = build_image(mode, ink, alpha, rng)
    if mode in TRANSPARENCY_KEYS and image_format in {"PNG", "GIF"} and draw(st.booleans()):
        image.info["transparency"] = TRANSPARENCY_KEYS[mode]
    return image_format, image


def build_image(mode, ink, alpha, rng):
    """Return an image of `mode` whose luminance (or alpha) is `ink`, shape (h, w) in [0, 1]."""
    grey = Image.fromarray(np.rint(ink * 255).astype(np.uint8), mode="L")
    if mode == "I;16":
        return Image.fromarray(np.rint(ink * 65535).astype(np.uint16))
    if mode in {"LA", "RGBA"}:
        image = grey.convert(mode)
        if alpha == "ink":
            image.putalpha(grey)
        elif alpha == "noise":
            noise = rng.integers(0, 256, size=ink.shape, dtype=np.uint8)
            image.putalpha(Image.fromarray(noise, mode="L"))
        return image
    return grey.convert(mode)


@FUZZ_SETTINGS
@given(data=st.binary(max_size=4096))
def test_random_bytes_never_crash(data):
    count_case("preprocess(random bytes)")
    digit = preprocess_or_input_error(data)
    if digit is not None:
        assert_network_input(digit)


@FUZZ_SETTINGS
@given(header=st.sampled_from([b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF89a", b"BM", b"RIFF"]),
       data=st.binary(max_size=2048))
def test_bytes_behind_a_real_signature_never_crash(header, data):
    count_case("preprocess(signature + random bytes)")
    digit = preprocess_or_input_error(header + data)
    if digit is not None:
        assert_network_input(digit)


@FUZZ_SETTINGS
@given(drawn=images())
def test_any_valid_image_gives_the_network_input_or_a_documented_error(drawn):
    count_case("preprocess(random valid image)")
    image_format, image = drawn
    digit = preprocess_or_input_error(encode_image(image, image_format))
    if digit is not None:
        assert_network_input(digit)


@FUZZ_SETTINGS
@given(drawn=images(), flips=st.lists(st.tuples(st.floats(0, 1), st.integers(1, 255)), min_size=1, max_size=8),
       cut=st.floats(0.05, 1))
def test_damaged_images_never_crash(drawn, flips, cut):
    count_case("preprocess(damaged valid image)")
    image_format, image = drawn
    data = bytearray(encode_image(image, image_format))
    for where, mask in flips:
        data[min(int(where * len(data)), len(data) - 1)] ^= mask
    digit = preprocess_or_input_error(bytes(data[: max(1, int(cut * len(data)))]))
    if digit is not None:
        assert_network_input(digit)


@pytest.fixture(scope="module")
def served_model():
    """The committed model, as create_app loads it."""
    return model.load(model.DEFAULT_MODEL_PATH)


PROBABILITY_SUM_TOLERANCE = 1e-4
"""Softmax outputs in float32 sum to 1 within rounding."""


def assert_number_reading(readings, image_size):
    """Assert what /predict/number is built from: digits left to right (by their boxes' centres), each inside the image.

    Centres, not left edges: digits found by their strokes may overlap in
    columns (a late stroke reaching back), and both segmenters order by centre.
    """
    width, height = image_size
    assert readings
    centres = [reading.box[0] + reading.box[2] / 2 for reading in readings]
    assert centres == sorted(centres)
    for reading in readings:
        assert_network_input(reading.field)
        left, top, box_width, box_height = reading.box
        assert left >= 0 and top >= 0 and box_width > 0 and box_height > 0
        assert left + box_width <= width and top + box_height <= height
        assert reading.probabilities.shape == (N_CLASSES,)
        assert np.all(np.isfinite(reading.probabilities))
        assert abs(float(reading.probabilities.sum()) - 1) < PROBABILITY_SUM_TOLERANCE



@FUZZ_SETTINGS
@given(data=st.binary(max_size=4096))
def test_random_bytes_never_crash_the_reading_of_a_number(served_model, data):
    count_case("recognise_number(random bytes)")
    try:
        readings = recognise_number(data, served_model)
    except InputImageError:
        return
    assert_number_reading(readings, decode_image(data).size)


@FUZZ_SETTINGS
@given(drawn=images())
def test_any_valid_image_reads_as_a_number_or_a_documented_error(served_model, drawn):
    count_case("recognise_number(random valid image)")
    image_format, image = drawn
    try:
        readings = recognise_number(encode_image(image, image_format), served_model)
    except InputImageError:
        return
    assert_number_reading(readings, image.size)


MANY_MARKS_SIDE = 400
"""Largest side of a picture of many marks: thousands of them, quick to read."""

FIXED_BYTES = 16 * 2**20
BYTES_PER_PIXEL = 32
"""Memory a reading may allocate: this, plus this per pixel (as tests/test_hostile.py holds it)."""


@st.composite
def many_marks(draw):
    """Draw marks on the page's transparent canvas, PNG bytes: a dot grid, scattered dots, hatching or noise of any pitch and density."""
    side = draw(st.integers(16, MANY_MARKS_SIDE))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    rows, columns = np.indices((side, side))
    kind = draw(st.sampled_from(["grid", "scatter", "hatching", "noise"]))
    if kind == "grid":
        pitch = draw(st.integers(2, 16))
        dot = draw(st.integers(1, pitch - 1))
        ink = (rows % pitch < dot) & (columns % pitch < dot)
    elif kind == "scatter":
        ink = rng.random((side, side)) < draw(st.floats(0.001, 0.3))
    elif kind == "hatching":
        ink = (rows * draw(st.integers(-3, 3)) + columns) % draw(st.integers(2, 16)) == 0
    else:
        ink = rng.random((side, side)) < draw(st.floats(0.3, 0.7))
    return canvas_of(ink), side


@FUZZ_SETTINGS
@given(drawn=many_marks())
def test_a_picture_of_many_marks_reads_as_a_number_or_too_many_digits_in_linear_memory(served_model, drawn):
    count_case("recognise_number(many marks)")
    png, side = drawn
    tracemalloc.start()
    try:
        readings = recognise_number(png, served_model)
    except TooManyDigitsError:
        readings = None
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert peak <= FIXED_BYTES + BYTES_PER_PIXEL * side * side
    if readings is not None:
        assert_number_reading(readings, (side, side))
COORDINATES = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
STROKES = st.lists(st.lists(st.lists(COORDINATES, min_size=2, max_size=2).map(tuple), min_size=1, max_size=40),
                   min_size=1, max_size=30)
"""Random pen strokes: any number of points anywhere, in or far outside the image."""


@FUZZ_SETTINGS
@given(drawn=images(), strokes=STROKES)
def test_any_strokes_with_any_image_read_as_a_number_or_a_documented_error(served_model, drawn, strokes):
    count_case("recognise_number(random valid image, random strokes)")
    image_format, image = drawn
    try:
        readings = recognise_number(encode_image(image, image_format), served_model,
                                    strokes=[np.asarray(stroke, dtype=np.float64) for stroke in strokes])
    except InputImageError:
        return
    assert_number_reading(readings, image.size)


@FUZZ_SETTINGS
@given(drawn=images())
def test_ink_is_always_float32_in_zero_one_with_the_image_shape(drawn):
    count_case("ink_intensity(random decoded image)")
    image_format, image = drawn
    decoded = decode_image(encode_image(image, image_format))
    ink = ink_intensity(decoded)
    assert ink.shape == (decoded.height, decoded.width)
    assert ink.dtype == np.float32
    assert np.all(np.isfinite(ink)) and ink.min() >= 0 and ink.max() <= 1


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=3),
    lambda children: st.lists(children, max_size=4),
    max_leaves=40,
)
"""Any JSON value, nested lists included: what a client may send as "strokes"."""

STROKE_ERRORS = {(400, "invalid_strokes"), (422, "too_many_strokes")}
FUZZ_MAX_STROKES, FUZZ_MAX_POINTS = 3, 6
"""Small limits, so that random lists cross them."""


@FUZZ_SETTINGS
@given(strokes=JSON_VALUES)
def test_any_json_value_as_strokes_is_read_or_refused_with_a_documented_error(strokes):
    count_case("strokes_from(any JSON value)")
    try:
        parsed = strokes_from(strokes, FUZZ_MAX_STROKES, FUZZ_MAX_POINTS)
    except ApiError as error:
        assert (error.status, error.code) in STROKE_ERRORS
        return
    if parsed is None:
        assert strokes is None
        return
    assert len(parsed) <= FUZZ_MAX_STROKES and sum(map(len, parsed)) <= FUZZ_MAX_POINTS
    points = [point for stroke in parsed for point in stroke]
    assert all(len(point) == 2 and all(np.isfinite(point)) for point in points)


schemathesis.serializer.alias(["image/bmp", "image/jpg"], "application/octet-stream")
"""Schemathesis sends PNG, JPEG, GIF and WebP bodies itself; BMP and image/jpg (JPEG's
common misspelling, which the API accepts) bodies go as raw bytes too."""


FUZZ_DATABASE = tempfile.TemporaryDirectory(prefix="fuzz-corrections-")
"""Where the corrections that the fuzzing sends are stored, removed at exit."""

api_schema = schemathesis.openapi.from_wsgi("/openapi.json", create_app({
    "DATABASE_URL": sqlite_url(Path(FUZZ_DATABASE.name) / "corrections.sqlite3"),
    "CORRECTIONS_PER_MINUTE": EXAMPLES * 100,
}))
"""The app's own /openapi.json, from the app as production builds it (not in
testing mode; its corrections in a temporary SQLite file, and a rate limit
the fuzzing never reaches), which schemathesis then calls in-process over
WSGI. Loaded at import: schemathesis' lazy fixture loader does not work with
this pytest."""


@pytest.fixture(scope="module", autouse=True)
def remove_fuzz_database():
    """Remove the fuzzing's corrections when the module is done."""
    yield
    FUZZ_DATABASE.cleanup()

SCHEMA_VALID_IS_NOT_AN_IMAGE = [schemathesis.checks.positive_data_acceptance]
"""Checks left out: a schema-valid body (any string, any bytes) is rarely a
readable image, so /predict rightly answers most of them 400; the schema
cannot say what an image is."""


@api_schema.parametrize()
@FUZZ_SETTINGS
def test_api_never_fails_and_conforms_to_its_openapi_document(case):
    operation = case.operation
    if case.method.upper() == operation.method.upper():
        count_case(f"API {operation.label}")
    else:
        count_case(f"API {operation.path} with an undocumented method")
    case.call_and_validate(excluded_checks=SCHEMA_VALID_IS_NOT_AN_IMAGE)
