"""Take the image bytes out of a /predict request, in any of its three forms."""

import base64
import binascii
import re

from .errors import ApiError

IMAGE_FIELD = "image"
"""Name of the form field, and of the JSON key, that carries the image."""

RAW_IMAGE_TYPES = frozenset(
    {"image/png", "image/jpeg", "image/webp", "image/gif", "image/bmp"}
)
"""Content types accepted as a raw image body."""

BASE64_QUANTUM = 4
"""Base64 encodes in groups of four characters; missing padding is restored."""

DATA_URL = re.compile(
    r"data:(?P<mimetype>[^;,]*)(?P<params>(?:;[^;,]*)*?)(?P<base64>;base64)?,(?P<payload>.*)",
    re.DOTALL | re.IGNORECASE,
)
"""An RFC 2397 data URL: `data:[<mediatype>][;base64],<data>`."""


def image_bytes_from_request(request):
    """Return the uploaded image's bytes, or raise ApiError saying what is wrong.

    Accepts, in order of preference: a multipart form with the file in the
    field "image"; a raw image body; a JSON object {"image": data URL or
    bare base64}.
    """
    mimetype = request.mimetype
    if mimetype == "multipart/form-data":
        return _from_multipart(request)
    if mimetype in RAW_IMAGE_TYPES:
        return _from_raw_body(request)
    if mimetype == "application/json":
        return _from_json(request)
    shown = mimetype or "none"
    raise ApiError(
        415,
        "unsupported_media_type",
        f"Content-Type {shown} is not accepted: send multipart/form-data with "
        f"the field '{IMAGE_FIELD}', a raw image body "
        f"({', '.join(sorted(RAW_IMAGE_TYPES))}), or application/json.",
    )


def _from_multipart(request):
    files = request.files.getlist(IMAGE_FIELD)
    if not files:
        raise ApiError(
            400, "missing_image", f"The form has no file in the field '{IMAGE_FIELD}'."
        )
    if len(files) > 1:
        raise ApiError(
            400,
            "multiple_images",
            f"The field '{IMAGE_FIELD}' holds {len(files)} files; send one.",
        )
    data = files[0].read()
    if not data:
        raise ApiError(400, "missing_image", "The uploaded file is empty.")
    return data


def _from_raw_body(request):
    data = request.get_data(cache=False)
    if not data:
        raise ApiError(400, "missing_image", "The request body is empty.")
    return data


def _from_json(request):
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        raise ApiError(
            400,
            "invalid_json",
            f'The body must be a JSON object like {{"{IMAGE_FIELD}": "data:image/png;base64,..."}}.',
        )
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
