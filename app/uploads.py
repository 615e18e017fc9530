"""Take the image bytes out of a /predict request, in any of its three forms.

The whole body is read first, within the upload deadline that
app/upload_deadline.py sets, and each form is then parsed from that one copy
in memory: a multipart form (by Werkzeug's parser), a raw image, or JSON.
The JSON and multipart forms may also carry the drawing's pen strokes
(app/strokes.py).
"""

import base64
import binascii
import io
import re
from typing import NamedTuple

from werkzeug.exceptions import ClientDisconnected, HTTPException, RequestEntityTooLarge
from werkzeug.formparser import FormDataParser

from .errors import ApiError
from .strokes import DEFAULT_MAX_STROKE_POINTS, DEFAULT_MAX_STROKES, STROKES_FIELD, parse_strokes, strokes_from_text
from .upload_deadline import deadline_of, has_body

IMAGE_FIELD = "image"
"""Name of the form field, and of the JSON key, that carries the image."""

FORM_TYPE = "multipart/form-data"
JSON_TYPE = "application/json"

RAW_IMAGE_TYPES = frozenset(
    {"image/png", "image/jpeg", "image/jpg", "image/webp", "image/gif", "image/bmp"}
)
"""Content types accepted as a raw image body or in a data URL.

image/jpg is not a registered type but a common misspelling of image/jpeg;
the decoder reads the bytes, whatever the type says, so it is accepted."""

BASE64_QUANTUM = 4
"""Base64 encodes in groups of four characters; missing padding is restored."""

DATA_URL = re.compile(
    r"data:(?P<mimetype>[^;,]*)(?P<params>(?:;[^;,]*)*?)(?P<base64>;base64)?,(?P<payload>.*)",
    re.DOTALL | re.IGNORECASE,
)
"""An RFC 2397 data URL: `data:[<mediatype>][;base64],<data>`."""

ACCEPTED_FORMS = (
    f"send {FORM_TYPE} with the field '{IMAGE_FIELD}', a raw image body "
    f"({', '.join(sorted(RAW_IMAGE_TYPES))}), or {JSON_TYPE}"
)
"""The three forms of a request, for the error messages that list them."""


class Upload(NamedTuple):
    """What a request sent: the image, and the strokes that drew it when it says."""

    image: bytes
    strokes: list
    """None, or a list of float64 arrays of shape (k, 2): points in pixels of the image."""


def image_bytes_from_request(request):
    """Return the uploaded image's bytes, or raise ApiError saying what is wrong."""
    return upload_from_request(request).image


def upload_from_request(request, max_strokes=DEFAULT_MAX_STROKES, max_points=DEFAULT_MAX_STROKE_POINTS):
    """Return the request's Upload, or raise ApiError saying what is wrong.

    Accepts a multipart form with the file in the field "image" (and the
    strokes' JSON in the field "strokes"), a raw image body, or a JSON
    object {"image": data URL or bare base64, "strokes": [...]}. The content
    type is checked before the body is read.
    """
    mimetype = request.mimetype
    if not mimetype and not has_body(request.environ):
        raise ApiError(400, "missing_image", f"The request is empty: {ACCEPTED_FORMS}.")
    if mimetype != FORM_TYPE and mimetype != JSON_TYPE and mimetype not in RAW_IMAGE_TYPES:
        raise ApiError(
            415,
            "unsupported_media_type",
            f"Content-Type {mimetype or 'none'} is not accepted: {ACCEPTED_FORMS}.",
        )
    body = read_body(request)
    if mimetype == FORM_TYPE:
        return _from_multipart(request, body, max_strokes, max_points)
    if mimetype == JSON_TYPE:
        return _from_json(request, max_strokes, max_points)
    if not body:
        raise ApiError(400, "missing_image", "The request body is empty.")
    return Upload(body, None)


def read_body(request):
    """Return the whole request body, read before its upload deadline, and keep it for parsing.

    Raises ApiError 408 when the body did not arrive before the deadline,
    400 when it was cut short or its chunked encoding is malformed, and 413
    over MAX_CONTENT_LENGTH, with or without a Content-Length.
    """
    deadline = deadline_of(request.environ)
    limit = request.max_content_length
    try:
        body = _read_or_none(request)
    except RequestEntityTooLarge:
        raise _too_large(limit) from None
    finally:
        deadline.cancel()
    expected = request.content_length
    if body is None or (expected is not None and len(body) < expected):
        if deadline.expired:
            raise _upload_timeout(deadline.seconds)
        raise ApiError(
            400, "invalid_body",
            "The request body could not be read whole: the connection was cut, "
            "or its chunked encoding is malformed.",
        )
    if deadline.expired and expected is None:
        raise _upload_timeout(deadline.seconds)  # a chunked body's end looks like the shut-down
    if expected is None and limit is not None and len(body) >= limit:
        # Werkzeug stops a body without Content-Length (chunked) at the limit
        # without saying so; one that fills it is taken as over it.
        raise _too_large(limit)
    return body


def _read_or_none(request):
    """Return the request body, or None when the server could not read it whole."""
    try:
        return request.get_data(cache=True)
    except ClientDisconnected:
        return None
    except HTTPException:
        raise  # 413 from Werkzeug's limits
    except Exception:  # noqa: BLE001 - gunicorn's parse errors (a bad chunk) are not OSErrors
        return None


def _too_large(limit):
    return ApiError(
        413, "payload_too_large",
        f"The request body is over the limit of {limit:,} bytes (MAX_UPLOAD_BYTES).",
    )


def _upload_timeout(timeout_s):
    return ApiError(
        408, "request_timeout",
        f"The request body did not arrive within {timeout_s} s.",
    )


def _in_memory_file(*_args, **_kwargs):
    """Keep uploaded files in memory: the body is already there, and bounded."""
    return io.BytesIO()


def _from_multipart(request, body, max_strokes, max_points):
    images, form = _parsed_by_werkzeug(request, body)
    if not images:
        raise ApiError(
            400, "missing_image", f"The form has no file in the field '{IMAGE_FIELD}'."
        )
    if len(images) > 1:
        raise ApiError(
            400,
            "multiple_images",
            f"The field '{IMAGE_FIELD}' holds {len(images)} files; send one.",
        )
    if not images[0]:
        raise ApiError(400, "missing_image", "The uploaded file is empty.")
    texts = form.getlist(STROKES_FIELD)
    if len(texts) > 1:
        raise ApiError(400, "invalid_strokes", f"The form holds {len(texts)} fields '{STROKES_FIELD}'; send one.")
    strokes = strokes_from_text(texts[0], max_strokes, max_points) if texts else None
    return Upload(images[0], strokes)


def _parsed_by_werkzeug(request, body):
    """Return (contents of every file in the field "image", the other fields), by Werkzeug's form parser.

    The parser is called directly rather than through `request.files`, which
    would take a malformed form for an empty one.
    """
    parser = FormDataParser(
        stream_factory=_in_memory_file,
        max_form_memory_size=request.max_form_memory_size,
        max_form_parts=request.max_form_parts,
        silent=False,
    )
    try:
        _, form, files = parser.parse(io.BytesIO(body), FORM_TYPE, len(body), request.mimetype_params)
    except RequestEntityTooLarge:
        raise ApiError(
            413, "payload_too_large",
            f"The form is over its limits: at most {request.max_form_parts} parts, and "
            f"{request.max_form_memory_size} bytes in a field that is not a file.",
        ) from None
    except ValueError:
        raise ApiError(
            400, "invalid_form",
            "The multipart form is malformed: it has no boundary, is cut short, "
            "or has names that are not UTF-8.",
        ) from None
    return [image.read() for image in files.getlist(IMAGE_FIELD)], form


def _from_json(request, max_strokes, max_points):
    payload = json_object(request)
    image = image_from_json(payload)
    return Upload(image, parse_strokes(payload.get(STROKES_FIELD), max_strokes, max_points))


def json_object(request):
    """Return the body's JSON object, or raise ApiError 400 invalid_json."""
    try:
        payload = request.get_json(silent=True)
    except RecursionError:
        payload = None  # nested deeper than Python's parser goes: not our object anyway
    if not isinstance(payload, dict):
        raise ApiError(
            400,
            "invalid_json",
            f'The body must be a JSON object like {{"{IMAGE_FIELD}": "data:image/png;base64,..."}}.',
        )
    return payload


def image_from_json(payload):
    """Return the image bytes of a JSON object's "image": a data URL or bare base64."""
    encoded = payload.get(IMAGE_FIELD)
    if not isinstance(encoded, str) or not encoded.strip():
        raise ApiError(
            400,
            "missing_image",
            f"The JSON object needs a string '{IMAGE_FIELD}': a data URL or base64.",
        )
    return decode_image_string(encoded)


def decode_image_string(encoded):
    """Decode a data URL or bare base64 string into image bytes."""
    encoded = encoded.strip()
    data_url = DATA_URL.fullmatch(encoded)
    if data_url is not None:
        mimetype = data_url["mimetype"].lower()
        if mimetype not in RAW_IMAGE_TYPES:
            raise ApiError(
                415,
                "unsupported_media_type",
                f"The data URL holds {mimetype or 'no type'}, not an image of type "
                f"{', '.join(sorted(RAW_IMAGE_TYPES))}.",
            )
        if data_url["base64"] is None:
            raise ApiError(
                400, "invalid_base64", "The data URL must be base64-encoded (;base64,)."
            )
        encoded = data_url["payload"]
    compact = "".join(encoded.split())
    compact += "=" * (-len(compact) % BASE64_QUANTUM)
    try:
        data = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(
            400, "invalid_base64", "The image string is not valid base64."
        ) from None
    if not data:
        raise ApiError(400, "missing_image", "The image string is empty.")
    return data
