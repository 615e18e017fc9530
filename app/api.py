"""The JSON API: POST /predict, POST /predict/number, GET /healthz, GET /openapi.json.

The views only map HTTP to `model.recognise` and its plain results to JSON;
the model itself is the one `create_app` loaded through `model.load`.
"""

import base64
import io
import threading

import numpy as np
from flask import Blueprint, current_app, jsonify, request
from PIL import Image

from model.constants import MAX_INTENSITY
from model.preprocess import InputImageError, NoInkError, TooManyPixelsError
from model.recognise import recognise_digit, recognise_number
from model.segment import TooManyDigitsError

from .confidence import confidence_threshold, is_confident
from .errors import ApiError
from .headers import add_cors_headers
from .openapi import openapi_document
from .uploads import upload_from_request

bp = Blueprint("api", __name__)
bp.after_request(add_cors_headers)

MODEL_KEY = "digit_model"
"""Where create_app keeps the loaded model in `app.extensions`."""

CONCURRENT_DECODES = 2
"""Images decoded and read at once per worker process.

A worker has many threads so that slow uploads cannot starve it, but a
large image takes about 90 MB while it is decoded: without a bound, a burst
of them would exceed a 512 MB dyno. Decoding is CPU work under the GIL, so
more at once would not be faster either.
"""

_decode_slots = threading.BoundedSemaphore(CONCURRENT_DECODES)

PROBABILITY_DECIMALS = 6
"""Probabilities are rounded for the JSON: more digits carry no information."""

PREVIEW_VALUES = {"0": False, "1": True}
"""The values ?preview= may take, as the OpenAPI document lists them, and whether each asks for the preview.

Anything else is refused with 400 rather than read as "no": a typo would
otherwise silently drop the preview the client asked for."""


def get_model():
    """Return the model loaded once at start-up."""
    return current_app.extensions[MODEL_KEY]


@bp.post("/predict")
def predict():
    """Recognise the one digit in the uploaded image."""
    with_preview = _wants_preview()
    answer = _recognise(recognise_digit, _upload())
    body = reading_body(answer.digit, with_preview)
    if answer.several_digits:
        body["confident"] = False
    body["model"] = get_model().version
    return jsonify(body)


@bp.post("/predict/number")
def predict_number():
    """Read every digit in the uploaded image, left to right, as one number."""

    with_preview = _wants_preview()
    readings = _recognise(recognise_number, _upload())
    digits = [reading_body(reading, with_preview) for reading in readings]
    for reading, digit in zip(readings, digits):
        digit["box"] = list(reading.box)
    return jsonify(
        number="".join(str(digit["digit"]) for digit in digits),
        confident=all(digit["confident"] for digit in digits),
        digits=digits,
        model=get_model().version,
    )


def _upload():
    """Return the request's image and strokes, within this app's limits on strokes."""
    config = current_app.config
    return upload_from_request(request, config["MAX_STROKES"], config["MAX_STROKE_POINTS"])


def _recognise(read, upload):
    """Run `read` (recognise_digit or recognise_number) on the Upload with this app's limits.

    The model's input errors become the API's errors, with their status and code.
    """
    config = current_app.config
    try:
        with _decode_slots:
            return read(upload.image, get_model(), max_pixels=config["MAX_IMAGE_PIXELS"],
                        max_digits=config["MAX_DIGITS"], strokes=upload.strokes)
    except TooManyPixelsError as error:
        raise ApiError(422, "too_many_pixels", str(error)) from None
    except NoInkError as error:
        raise ApiError(422, "no_ink", str(error)) from None
    except TooManyDigitsError as error:
        raise ApiError(422, "too_many_digits", str(error)) from None
    except InputImageError as error:
        raise ApiError(400, "invalid_image", str(error)) from None


def _wants_preview():
    """Return whether ?preview=1 asks for the network's input; raise ApiError 400 for another value."""
    value = request.args.get("preview", "0")
    if value not in PREVIEW_VALUES:
        raise ApiError(400, "invalid_parameter", f"The preview parameter must be 0 or 1, not {value!r}.")
    return PREVIEW_VALUES[value]


def reading_body(reading, with_preview=False):
    """Return the JSON fields of one digit read: digit, confidence, confident, is_digit, probabilities."""
    rounded = [round(p, PROBABILITY_DECIMALS) for p in reading.probabilities.tolist()]
    digit = int(np.argmax(reading.probabilities))
    body = {
        "digit": digit,
        "confidence": rounded[digit],
        "confident": reading.is_digit and is_confident(rounded[digit], confidence_threshold(get_model())),
        "is_digit": reading.is_digit,
        "probabilities": rounded,
    }
    if with_preview:
        body["preview"] = preview_data_url(reading.field)
    return body


def preview_data_url(field):
    """Encode the network's input as a PNG data URL, white ink on black.

    field : ndarray of shape (28, 28), float32 in [0, 1].
    """
    pixels = np.rint(field * MAX_INTENSITY).astype(np.uint8)
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
