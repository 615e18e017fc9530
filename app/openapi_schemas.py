"""The parts the OpenAPI document is built from: error responses, the image endpoints' request and errors."""

from .strokes import STROKES_FIELD
from .uploads import IMAGE_FIELD, RAW_IMAGE_TYPES


def error_response(description, codes):
    """Describe an error response whose `code` is one of `codes`."""
    return {
        "description": f"{description} Codes: {', '.join(codes)}.",
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
        },
    }


PREVIEW_PARAMETER = {
    "name": "preview",
    "in": "query",
    "required": False,
    "description": (
        "With 1, the answer also holds each 28x28 network input as a PNG data URL; "
        "0, the default, leaves it out. Any other value is refused (400, invalid_parameter)."
    ),
    "schema": {"type": "string", "enum": ["0", "1"]},
}


def image_operation(operation_id, summary, answer, schema, request_body, errors):
    """Describe a POST that takes one image and answers `schema`."""
    return {
        "operationId": operation_id,
        "summary": summary,
        "parameters": [PREVIEW_PARAMETER],
        "requestBody": request_body,
        "responses": {
            "200": {
                "description": answer,
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
            },
            **errors,
        },
    }


def strokes_schema(max_strokes, max_points):
    """The optional pen strokes of a drawing, in the JSON body or the form field."""
    return {
        "type": "array",
        "maxItems": max_strokes,
        "description": (
            "Optional: the pen strokes that drew the image, in the order they were "
            "drawn, each a list of [x, y] points in pixels of the image. They say "
            "which ink belongs together (a digit is written between pen lifts); the "
            "image is what is read. Points outside the image are clipped; strokes "
            "that do not match the ink are ignored. At most "
            f"{max_strokes} strokes (MAX_STROKES) and {max_points} points in all (MAX_STROKE_POINTS)."
        ),
        "items": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "array", "minItems": 2, "maxItems": 2, "items": {"type": "number"},
            },
        },
    }


def image_request_body(max_bytes, max_pixels, strokes):
    """The three forms an image may take in a request; `strokes` is the schema of the strokes."""
    binary_image = {"schema": {"type": "string", "format": "binary"}}
    return {
        "required": True,
        "description": (
            f"At most {max_bytes} bytes and {max_pixels} pixels. "
            "Any Pillow image mode; animated images use their first frame."
        ),
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": [IMAGE_FIELD],
                    "properties": {
                        IMAGE_FIELD: {"type": "string", "format": "binary"},
                        STROKES_FIELD: {
                            "type": "string",
                            "description": f"Optional: the JSON of '{STROKES_FIELD}' (see the JSON form).",
                        },
                    },
                },
                "encoding": {IMAGE_FIELD: {"contentType": "image/*"}},
            },
            **{mimetype: binary_image for mimetype in sorted(RAW_IMAGE_TYPES)},
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": [IMAGE_FIELD],
                    "properties": {
                        IMAGE_FIELD: {
                            "type": "string",
                            "minLength": 1,
                            "description": "A data URL (data:image/png;base64,...) or bare base64.",
                        },
                        STROKES_FIELD: strokes,
                    },
                }
            },
        },
    }


def image_errors(max_bytes, max_pixels, timeout_s):
    """The error responses of an operation that takes an image."""
    return {
        "400": error_response(
            "The request holds no readable image, or ?preview= is not 0 or 1.",
            [
                "invalid_image", "missing_image", "multiple_images", "invalid_base64",
                "invalid_json", "invalid_form", "invalid_body", "invalid_parameter", "invalid_strokes",
            ],
        ),
        "405": error_response("Only POST is allowed.", ["method_not_allowed"]),
        "408": error_response(
            f"The body did not arrive within {timeout_s} seconds.", ["request_timeout"]
        ),
        "413": error_response(f"The body is over {max_bytes} bytes.", ["payload_too_large"]),
        "415": error_response(
            "The content type, or a data URL's type, is not accepted.", ["unsupported_media_type"]
        ),
        "422": error_response(
            "The image is readable but cannot be recognised: it has no "
            f"ink, or declares more than {max_pixels} pixels; or the request "
            "sends more strokes or points than are read.",
            ["no_ink", "too_many_pixels", "too_many_strokes"],
        ),
    }
