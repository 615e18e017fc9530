"""The real server: gunicorn started from the Procfile's command, over HTTP."""

import json
import subprocess
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
from PIL import Image

from bench.support.digits import digit_png, number_png
from bench.support.server import SERVER_START_TIMEOUT_S
from model.constants import N_CLASSES, N_PIXELS
from model.network import Network

FAILED_START_BOUND_S = 15
"""A server with a bad model must exit this soon: at once, not after a health-check timeout."""


def post(url, data, content_type):
    request = urllib.request.Request(url, data=data, method="POST",
                                     headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


@pytest.fixture(scope="module")
def seven_png():
    return digit_png(7, "white")


def test_procfile_server_answers_healthz(live_server):
    with urllib.request.urlopen(f"{live_server}/healthz", timeout=10) as response:
        assert response.status == 200
        assert json.load(response)["status"] == "ok"


def test_procfile_server_recognises_a_posted_png(live_server, seven_png):
    status, body = post(f"{live_server}/predict", seven_png, "image/png")
    assert status == 200
    assert body["digit"] == 7


def test_procfile_server_reads_a_posted_number(live_server):
    status, body = post(f"{live_server}/predict/number", number_png("1047"), "image/png")
    assert status == 200
    assert body["number"] == "1047"
    assert len(body["digits"]) == 4


def test_procfile_server_refuses_more_marks_than_max_digits(start_server):
    server = start_server({"MAX_DIGITS": "2"})
    server.wait_until_healthy()
    status, body = post(f"{server.base_url}/predict/number", number_png("111"), "image/png")
    assert status == 422
    assert body["error"]["code"] == "too_many_digits"
    assert "at most 2" in body["error"]["message"]


def test_procfile_server_answers_bad_input_with_a_json_error(live_server):
    status, body = post(f"{live_server}/predict", b"not an image", "image/png")
    assert status == 400
    assert body["error"]["code"] == "invalid_image"


def test_procfile_server_refuses_to_start_without_its_model(start_server, tmp_path):
    missing = tmp_path / "missing-model.npz"
    server = start_server({"MODEL_PATH": str(missing)})
    try:
        server.process.wait(timeout=SERVER_START_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pytest.fail("gunicorn kept running without a model file")
    assert server.process.returncode != 0
    assert "missing-model.npz" in server.log()


def truncated_copy(model_path, path):
    """Write the first half of a real model file."""
    data = model_path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def wrong_shape_copy(model_path, path):
    """Write a model file whose first weight matrix has the wrong shape for its layer sizes."""
    with np.load(model_path, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    arrays["W0"] = arrays["W0"][: len(arrays["W0"]) // 2]
    with open(path, "wb") as file:
        np.savez(file, **arrays)


def not_a_model(_model_path, path):
    """Write an image where the model should be."""
    Image.new("L", (8, 8)).save(path, format="PNG")


@pytest.fixture(scope="module")
def small_model_path(tmp_path_factory):
    """A valid model file, small and fixed, to damage in each test."""
    path = tmp_path_factory.mktemp("model") / "small.npz"
    Network.initialise([N_PIXELS, 16, N_CLASSES], np.random.default_rng(0)).save(path)
    return path


@pytest.mark.parametrize(
    ("damage", "problem"),
    [(truncated_copy, "not a readable .npz file"), (wrong_shape_copy, "has shape"),
     (not_a_model, "not a readable .npz file")],
    ids=["truncated", "wrong_shape", "an_image"],
)
def test_procfile_server_refuses_to_start_with_a_bad_model_naming_it(
    start_server, small_model_path, tmp_path, damage, problem
):
    bad = tmp_path / f"bad-model-{damage.__name__}.npz"
    damage(small_model_path, bad)
    started = time.monotonic()
    server = start_server({"MODEL_PATH": str(bad)})
    try:
        server.process.wait(timeout=FAILED_START_BOUND_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"gunicorn kept running with {bad.name}")
    assert time.monotonic() - started < FAILED_START_BOUND_S
    assert server.process.returncode != 0
    log = server.log()
    assert bad.name in log and problem in log
