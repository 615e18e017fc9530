"""The JSON API: POST /predict, GET /healthz, GET /openapi.json."""

import base64
import io

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

from .errors import ApiError
from .headers import add_cors_headers
from .openapi import openapi_document
from .uploads import image_bytes_from_request

bp = Blueprint("api", __name__)
bp.after_request(add_cors_headers)

MODEL_KEY = "digit_model"
"""Where create_app keeps the loaded Network in `app.extensions`."""

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


@bp.post("/predict")
def predict():
    """Recognise the digit in the uploaded image."""
    data = image_bytes_from_request(request)
    try:
        digit_image = preprocess(data, max_pixels=current_app.config["MAX_IMAGE_PIXELS"])
    except InputImageError as error:
        status, code = next(
            (status, code)
            for error_type, status, code in INPUT_ERRORS
            if isinstance(error, error_type)
        )
        raise ApiError(status, code, str(error)) from None

    model = get_model()
    probabilities = model.predict_proba(digit_image.reshape(1, N_PIXELS))[0]
    digit = int(np.argmax(probabilities))
    body = {
        "digit": digit,
        "confidence": round(float(probabilities[digit]), PROBABILITY_DECIMALS),
        "probabilities": [
            round(float(p), PROBABILITY_DECIMALS) for p in probabilities
        ],
        "model": model.version,
    }
    if request.args.get("preview", "").lower() in {"1", "true", "yes"}:
        body["preview"] = preview_data_url(digit_image)
    return jsonify(body)


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
    return jsonify(status="ok", model=get_model().version)


@bp.get("/openapi.json")
def openapi():
    """Serve the OpenAPI 3 description of this API."""
    return jsonify(openapi_document(current_app.config))
