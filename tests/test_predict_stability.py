"""/predict answers exactly what the plain pipeline computes, so speed-ups cannot change results.

The reference runs model.preprocess's steps one by one, from the same
`DIGIT_FIELD_STEPS` the app uses, and the network in float64; /predict runs
whatever the hot path has become. Over drawings of different digits, styles,
stroke widths, canvas sizes and request forms, the two must agree to within
the JSON's rounding.
"""

import base64
import io

import numpy as np
import pytest

from bench.support.drawing import encode_image, encode_style
from model.constants import CANVAS_HEIGHT as CANVAS_SIDE
from model.constants import N_PIXELS
from model.network import Network
from model.preprocess import DEFAULT_MAX_PIXELS, DIGIT_FIELD_STEPS, decode_image, ink_intensity
from model.training.handwriting import render_strokes

TOLERANCE = 1e-5
"""Rounding to 6 decimals and float32 arithmetic stay well inside this."""


def ellipse(cx, cy, rx, ry, n_points=37):
    angles = np.linspace(0, 2 * np.pi, n_points)
    return list(zip(cx + rx * np.cos(angles), cy + ry * np.sin(angles)))


SHAPES = {
    "0": [ellipse(140, 140, 50, 85)],
    "1": [[(120, 80), (148, 55), (146, 228)]],
    "2": [[(95, 95), (130, 60), (180, 75), (185, 115), (95, 225), (198, 225)]],
    "3": [[(95, 70), (180, 70), (130, 135), (185, 170), (160, 225), (95, 215)]],
    "4": [[(165, 55), (88, 168), (205, 168)], [(168, 105), (168, 230)]],
    "5": [[(192, 58), (108, 58), (100, 132), (170, 130), (185, 185), (150, 225), (100, 215)]],
    "7": [[(85, 62), (198, 62), (128, 232)]],
    "small 0": [ellipse(60, 70, 15, 25)],
    "dash": [[(60, 150), (220, 150)]],
    "dot": [[(200, 90)]],
}
"""Digits and awkward inputs (a thin tall 1, a wide dash, a single tap) in 280-pixel canvas coordinates."""

CASES = [
    ("0", "transparent", 18, CANVAS_SIDE, "multipart"),
    ("1", "transparent", 18, CANVAS_SIDE, "multipart"),
    ("2", "transparent", 18, CANVAS_SIDE, "raw"),
    ("3", "transparent", 8, CANVAS_SIDE, "json"),
    ("4", "transparent", 28, CANVAS_SIDE, "multipart"),
    ("5", "transparent", 13, CANVAS_SIDE, "raw"),
    ("7", "transparent", 23, CANVAS_SIDE, "multipart"),
    ("0", "white", 18, CANVAS_SIDE, "multipart"),
    ("2", "white", 10, CANVAS_SIDE, "json"),
    ("4", "white", 18, 140, "raw"),
    ("7", "white", 26, 560, "multipart"),
    ("1", "black", 18, CANVAS_SIDE, "multipart"),
    ("3", "black", 18, 200, "raw"),
    ("5", "black", 22, 420, "json"),
    ("small 0", "transparent", 18, CANVAS_SIDE, "multipart"),
    ("small 0", "white", 8, CANVAS_SIDE, "raw"),
    ("dash", "transparent", 18, CANVAS_SIDE, "multipart"),
    ("dash", "black", 30, CANVAS_SIDE, "raw"),
    ("dot", "transparent", 18, CANVAS_SIDE, "multipart"),
    ("1", "transparent", 3, 56, "multipart"),
]
"""(shape, style, stroke width in canvas pixels, side of the PNG, request form)."""


def case_png(shape, style, line_width, side):
    """Draw a shape on a canvas of `side` pixels, strokes scaled with the canvas."""
    scale = side / CANVAS_SIDE
    strokes = [[(x * scale, y * scale) for x, y in stroke] for stroke in SHAPES[shape]]
    ink = render_strokes(strokes, line_width * scale, size=(side, side))
    return encode_image(encode_style(ink, style))


def post(client, png, form):
    if form == "multipart":
        return client.post(
            "/predict",
            data={"image": (io.BytesIO(png), "digit.png", "image/png")},
            content_type="multipart/form-data",
        )
    if form == "raw":
        return client.post("/predict", data=png, content_type="image/png")
    data_url = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    return client.post("/predict", json={"image": data_url})


@pytest.fixture(scope="module")
def reference_network(app):
    """The served network with its weights in float64."""
    model = app.extensions["digit_model"]
    return Network(
        [W.astype(np.float64) for W in model.weights],
        [b.astype(np.float64) for b in model.biases],
        output_labels=model.output_labels,
        calibration=model.calibration,
    )


def reference_probabilities(png, network):
    """Chain the preprocessing steps by hand and run the float64 network; shape (10,)."""
    field = ink_intensity(decode_image(png, DEFAULT_MAX_PIXELS))
    for step in DIGIT_FIELD_STEPS:
        field = step(field)
    return network.predict_proba(field.reshape(1, N_PIXELS))[0]


@pytest.mark.parametrize(("shape", "style", "line_width", "side", "form"), CASES)
def test_predict_matches_the_reference_computation(
    client, app, reference_network, shape, style, line_width, side, form
):
    png = case_png(shape, style, line_width, side)
    expected = reference_probabilities(png, reference_network)

    response = post(client, png, form)

    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    np.testing.assert_allclose(body["probabilities"], expected, rtol=0, atol=TOLERANCE)
    assert body["digit"] == int(np.argmax(expected))
    assert body["confidence"] == pytest.approx(expected.max(), abs=TOLERANCE)
    assert body["model"] == app.extensions["digit_model"].version
