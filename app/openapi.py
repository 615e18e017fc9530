"""The OpenAPI 3 document that describes the JSON API."""

from model.constants import N_CLASSES

from .confidence import CONFIDENCE_THRESHOLD
from .strokes import STROKES_FIELD
from .uploads import IMAGE_FIELD, RAW_IMAGE_TYPES

OPENAPI_VERSION = "3.0.3"
API_VERSION = "1.0.0"


def _error_response(description, codes):
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


def _strokes_schema(max_strokes, max_points):
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


def _image_request_body(max_bytes, max_pixels, strokes):
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


def _image_errors(max_bytes, max_pixels, timeout_s):
    """The error responses of an operation that takes an image."""
    return {
        "400": _error_response(
            "The request holds no readable image, or ?preview= is not 0 or 1.",
            [
                "invalid_image", "missing_image", "multiple_images", "invalid_base64",
                "invalid_json", "invalid_form", "invalid_body", "invalid_parameter", "invalid_strokes",
            ],
        ),
        "405": _error_response("Only POST is allowed.", ["method_not_allowed"]),
        "408": _error_response(
            f"The body did not arrive within {timeout_s} seconds.", ["request_timeout"]
        ),
        "413": _error_response(f"The body is over {max_bytes} bytes.", ["payload_too_large"]),
        "415": _error_response(
            "The content type, or a data URL's type, is not accepted.", ["unsupported_media_type"]
        ),
        "422": _error_response(
            "The image is readable but cannot be recognised: it has no "
            f"ink, or declares more than {max_pixels} pixels; or the request "
            "sends more strokes or points than are read.",
            ["no_ink", "too_many_pixels", "too_many_strokes"],
        ),
    }


def corrections_paths(config):
    """Describe POST /corrections, when CORRECTIONS is on (the path does not exist otherwise)."""
    if not config.get("CORRECTIONS"):
        return {}
    max_digits = config["MAX_DIGITS"]
    point = {"type": "array", "minItems": 2, "maxItems": 2, "items": {"type": "number"}}
    body = {
        "type": "object",
        "required": [IMAGE_FIELD, "answer", "model", "label"],
        "properties": {
            IMAGE_FIELD: {
                "type": "string", "minLength": 1,
                "description": "The PNG the app read, as a data URL (data:image/png;base64,...) or bare base64.",
            },
            "strokes": {
                "type": "array", "maxItems": config["MAX_STROKES"],
                "items": {"type": "array", "items": point},
                "description": (
                    "Optional, as in /predict: the strokes in drawing order, each a list of [x, y] "
                    f"points in pixels of the image; at most {config['MAX_STROKES']} strokes and "
                    f"{config['MAX_STROKE_POINTS']} points in all."
                ),
            },
            "answer": {
                "type": "string", "pattern": f"^[0-9?]{{1,{max_digits}}}$",
                "description": "The number the app answered, ? for a mark it did not read as a digit.",
            },
            "model": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,100}$",
                      "description": "Id of the model that answered."},
            "label": {
                "type": "string", "nullable": True, "pattern": f"^[0-9]{{1,{max_digits}}}$",
                "description": "The right digits, or null when the drawing is not a digit.",
            },
        },
    }
    return {"/corrections": {"post": {
        "operationId": "createCorrection",
        "summary": "Keep a correction of an answer, with the drawing, to train later models on.",
        "description": (
            "Stored: the PNG, its strokes, the answer, the model id, the label, the image size and "
            "the time; nothing that identifies a person. At most "
            f"{config['CORRECTIONS_PER_MINUTE']} a minute per client (CORRECTIONS_PER_MINUTE)."
        ),
        "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
        "responses": {
            **_image_errors(config["MAX_CONTENT_LENGTH"], config["MAX_IMAGE_PIXELS"],
                            config["UPLOAD_TIMEOUT_SECONDS"]),
            "201": {
                "description": "Stored.",
                "content": {"application/json": {"schema": {
                    "type": "object", "required": ["id"],
                    "properties": {"id": {"type": "string", "description": "The correction's id."}},
                }}},
            },
            "400": _error_response(
                "The body, its image or one of its fields is malformed.",
                ["invalid_json", "invalid_body", "missing_image", "invalid_base64", "invalid_image",
                 "invalid_strokes", "invalid_answer", "invalid_model"],
            ),
            "422": _error_response(
                f"The label is not 1 to {max_digits} digits nor null, the strokes are over their "
                f"limits, or the image declares more than {config['MAX_IMAGE_PIXELS']} pixels.",
                ["invalid_label", "too_many_strokes", "too_many_pixels"],
            ),
            "429": _error_response(
                "This client sent more than CORRECTIONS_PER_MINUTE corrections in the last minute; "
                "Retry-After says when to try again.",
                ["too_many_corrections"],
            ),
            "503": _error_response(
                "The database cannot be reached; Retry-After says when to try again.",
                ["storage_unavailable"],
            ),
        },
    }}}


DIGIT_FIELDS = ("digit", "confidence", "confident", "is_digit", "probabilities")
"""Fields of every digit read, alone (/predict) or in a number (/predict/number)."""

CONFIDENT_DESCRIPTION = (
    "False when the answer is a guess: `confidence` is below "
    f"{CONFIDENCE_THRESHOLD}, a threshold chosen on real drawings, or the "
    "drawing does not look like a digit (`is_digit` false). Show the answer as a guess then."
)

MODEL_PROPERTY = {"type": "string", "description": "Id of the model that answered."}


def _digit_properties():
    """The JSON schema of the fields of one digit read."""
    return {
        "digit": {
            "type": "integer", "minimum": 0, "maximum": N_CLASSES - 1,
            "description": "The most probable digit (the best guess when `is_digit` is false).",
        },
        "confidence": {
            "type": "number", "minimum": 0, "maximum": 1,
            "description": "The probability of `digit`.",
        },
        "confident": {"type": "boolean", "description": CONFIDENT_DESCRIPTION},
        "is_digit": {
            "type": "boolean",
            "description": (
                "False when the drawing does not look like any digit (a letter, a "
                "symbol, a scribble); `digit` and `probabilities` are then the best "
                "guess among digits, and `confident` is false."
            ),
        },
        "probabilities": {
            "type": "array",
            "minItems": N_CLASSES,
            "maxItems": N_CLASSES,
            "items": {"type": "number", "minimum": 0, "maximum": 1},
            "description": "The probability of each digit 0-9; they sum to 1.",
        },
        "preview": {
            "type": "string",
            "description": "With ?preview=1: the 28x28 network input as a PNG data URL.",
        },
    }


def openapi_document(config):
    """Return the OpenAPI document as a dict, with this app's limits filled in."""
    max_bytes = config["MAX_CONTENT_LENGTH"]
    max_pixels = config["MAX_IMAGE_PIXELS"]
    timeout_s = config["UPLOAD_TIMEOUT_SECONDS"]
    max_digits = config["MAX_DIGITS"]
    digit_properties = _digit_properties()
    strokes = _strokes_schema(config["MAX_STROKES"], config["MAX_STROKE_POINTS"])
    request_body = _image_request_body(max_bytes, max_pixels, strokes)
    errors = _image_errors(max_bytes, max_pixels, timeout_s)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "Handwritten digit recogniser",
            "version": API_VERSION,
            "description": (
                "Post a drawing of a handwritten digit or number. /predict reads the "
                "whole drawing as one digit and gives the probabilities of all ten; "
                "/predict/number finds every digit, left to right, and reads each, "
                "with its box. Each digit is prepared as MNIST's digits were (cropped "
                "to the ink, fitted into 20x20 keeping its aspect ratio, centre of "
                "mass at the centre of 28x28). Ink may be in the alpha channel of a "
                "transparent image, dark on light, or light on dark: this is detected."
            ),
        },
        "paths": {
            "/predict": {"post": image_operation(
                "predict", "Recognise the one digit in an image.", "The recognised digit.",
                "Prediction", request_body, errors,
            )},
            "/predict/number": {"post": image_operation(
                "predictNumber",
                "Read every digit in an image, left to right, as one number.",
                "The number read, digit by digit.",
                "NumberReading", request_body, {
                    **errors,
                    "422": _error_response(
                        "The image is readable but cannot be read as a number: it has no "
                        f"ink, declares more than {max_pixels} pixels, or holds more than "
                        f"{max_digits} separate marks; or the request sends more strokes "
                        "or points than are read.",
                        ["no_ink", "too_many_pixels", "too_many_digits", "too_many_strokes"],
                    ),
                },
            )},
            **corrections_paths(config),
            "/healthz": {
                "get": {
                    "operationId": "healthz",
                    "summary": "Say that the service is up and which model it serves.",
                    "responses": {
                        "200": {
                            "description": "The service is up.",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Health"}
                                }
                            },
                        }
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document.",
                    "responses": {
                        "200": {
                            "description": "The OpenAPI document.",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        }
                    },
                }
            },
        },
        "components": {
            "schemas": {
                "Prediction": {
                    "type": "object",
                    "required": [*DIGIT_FIELDS, "model"],
                    "properties": {
                        **digit_properties,
                        "confident": {
                            "type": "boolean",
                            "description": (
                                f"{CONFIDENT_DESCRIPTION} Also false when the drawing clearly "
                                "holds several separate digits: read it with /predict/number."
                            ),
                        },
                        "model": MODEL_PROPERTY,
                    },
                },
                "DigitReading": {
                    "type": "object",
                    "required": [*DIGIT_FIELDS, "box"],
                    "properties": {
                        **digit_properties,
                        "box": {
                            "type": "array",
                            "minItems": 4,
                            "maxItems": 4,
                            "items": {"type": "integer", "minimum": 0},
                            "description": (
                                "Left, top, width and height of this digit's ink, in pixels "
                                "of the uploaded image."
                            ),
                        },
                    },
                },
                "NumberReading": {
                    "type": "object",
                    "required": ["number", "confident", "digits", "model"],
                    "properties": {
                        "number": {
                            "type": "string",
                            "pattern": "^[0-9]+$",
                            "description": "The digits read, joined, leading zeros kept.",
                        },
                        "confident": {
                            "type": "boolean",
                            "description": "True only when every digit is confident.",
                        },
                        "digits": {
                            "type": "array",
                            "minItems": 1,
                            "maxItems": max_digits,
                            "items": {"$ref": "#/components/schemas/DigitReading"},
                            "description": "The digits in reading order, left to right.",
                        },
                        "model": MODEL_PROPERTY,
                    },
                },
                "Health": {
                    "type": "object",
                    "required": ["status", "model"],
                    "properties": {
                        "status": {"type": "string", "enum": ["ok"]},
                        "model": {"type": "string"},
                    },
                },
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["code", "message"],
                            "properties": {
                                "code": {"type": "string"},
                                "message": {"type": "string"},
                            },
                        }
                    },
                },
            }
        },
    }
