"""The real server: gunicorn started from the Procfile's command, over HTTP."""

import json
import subprocess
import urllib.error
import urllib.request

import pytest
from PIL import Image, ImageDraw

from tests.server import SERVER_START_TIMEOUT_S


def post(url, data, content_type):
    request = urllib.request.Request(url, data=data, method="POST",
                                     headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


@pytest.fixture(scope="module")
def seven_png(png_bytes):
    canvas = Image.new("L", (280, 280), 255)
    pen = ImageDraw.Draw(canvas)
    pen.line([(80, 60), (200, 60), (120, 230)], fill=0, width=18, joint="curve")
    return png_bytes(canvas)


def test_procfile_server_answers_healthz(live_server):
    with urllib.request.urlopen(f"{live_server}/healthz", timeout=10) as response:
        assert response.status == 200
        assert json.load(response)["status"] == "ok"


def test_procfile_server_recognises_a_posted_png(live_server, seven_png):
    status, body = post(f"{live_server}/predict", seven_png, "image/png")
    assert status == 200
    assert body["digit"] == 7


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
