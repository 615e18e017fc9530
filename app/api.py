"""The JSON API: POST /predict, GET /healthz, GET /openapi.json."""

import base64
import io
import threading

import numpy as np
from flask import Blueprint, current_app, jsonify, request
from PIL import Image

from model import N_PIXELS
from model.preprocess import (
    InputImageError,
    NoInkError,
    TooManyPixelsError,
    preprocess,
)

from .confidence import is_confident
from .errors import ApiError
from .headers import add_cors_headers
from .openapi import openapi_document
from .uploads import image_bytes_from_request

bp = Blueprint("api", __name__)
bp.after_request(add_cors_headers)

MODEL_KEY = "digit_model"
"""Where create_app keeps the loaded Network in `app.extensions`."""

CONCURRENT_DECODES = 2
"""Images decoded at once per worker process.

A worker has many threads so that slow uploads cannot starve it, but a
large image takes about 90 MB while it is decoded: without a bound, a burst
of them would exceed a 512 MB dyno. Decoding is CPU work under the GIL, so
more at once would not be faster either.
"""

_decode_slots = threading.BoundedSemaphore(CONCURRENT_DECODES)

MODEL_VERSION_KEY = "digit_model_version"
"""Where the served model's version is kept, with the model it belongs to."""

PROBABILITY_DECIMALS = 6
"""Probabilities are rounded for the JSON: more digits carry no information."""

PIXEL_MAX = 255
"""Largest value of an 8-bit pixel, for the preview PNG."""

INPUT_ERRORS = (
    (TooManyPixelsError, 422, "too_many_pixels"),
    (NoInkError, 422, "no_ink"),
    (InputImageError, 400, "invalid_image"),
)
"""Preprocessing errors mapped to (status, code), most specific first."""


def get_model():
    """Return the network loaded once at start-up."""
    return current_app.extensions[MODEL_KEY]


def get_model_version(app=None):
    """Return the served model's version, hashed once per model rather than per request.

    `Network.version` hashes every weight (about 3 ms for 784-800-800-10, as
    long as the rest of /predict together). The cache remembers which model it hashed,
    so a model swapped into `app.extensions` gets its own version.
    """
    app = current_app if app is None else app
    model = app.extensions[MODEL_KEY]
    cached = app.extensions.get(MODEL_VERSION_KEY)
    if cached is None or cached[0] is not model:
        cached = (model, model.version)
        app.extensions[MODEL_VERSION_KEY] = cached
    return cached[1]


@bp.record_once
def _hash_model_version(state):
    """Hash the model's version at start-up, so that preloaded workers share it."""
    if MODEL_KEY in state.app.extensions:
        get_model_version(state.app)


@bp.post("/predict")
def predict():
    """Recognise the digit in the uploaded image."""
    data = image_bytes_from_request(request)
    try:
        with _decode_slots:
            digit_image = preprocess(data, max_pixels=current_app.config["MAX_IMAGE_PIXELS"])
    except InputImageError as error:
        status, code = next(
            (status, code)
            for error_type, status, code in INPUT_ERRORS
            if isinstance(error, error_type)
        )
        raise ApiError(status, code, str(error)) from None

    probabilities = get_model().predict_proba(digit_image.reshape(1, N_PIXELS))[0]
    body = prediction_body(probabilities, get_model_version())
    if request.args.get("preview", "").lower() in {"1", "true", "yes"}:
        body["preview"] = preview_data_url(digit_image)
    return jsonify(body)


def prediction_body(probabilities, version):
    """Return the fields of a 200 answer.

    probabilities : ndarray of shape (10,), the network's output for one image.
    """
    rounded = [round(p, PROBABILITY_DECIMALS) for p in probabilities.tolist()]
    digit = int(np.argmax(probabilities))
    return {
        "digit": digit,
        "confidence": rounded[digit],
        "confident": is_confident(rounded[digit]),
        "probabilities": rounded,
        "model": version,
    }


def preview_data_url(digit_image):
    """Encode the network's input as a PNG data URL, white ink on black.

    digit_image : ndarray of shape (28, 28), float32 in [0, 1].
    """
    pixels = np.rint(digit_image * PIXEL_MAX).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(buffer, format="PNG")
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f"data:image/png;base64,{encoded}"


@bp.get("/healthz")
def healthz():
    """Say that the app is up and which model it serves."""
    return jsonify(status="ok", model=get_model_version())


@bp.get("/openapi.json")
def openapi():
    """Serve the OpenAPI 3 description of this API."""
    return jsonify(openapi_document(current_app.config))
