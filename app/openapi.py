"""The OpenAPI 3 document that describes the JSON API."""

from model.constants import N_CLASSES

from .openapi_corrections import corrections_paths
from .openapi_schemas import error_response, image_errors, image_operation, image_request_body, strokes_schema

OPENAPI_VERSION = "3.0.3"
API_VERSION = "1.0.0"


DIGIT_FIELDS = ("digit", "confidence", "confident", "is_digit", "probabilities")
"""Fields of every digit read, alone (/predict) or in a number (/predict/number)."""

CONFIDENT_DESCRIPTION = (
    "False when the answer is a guess: `confidence` is below the model's "
    "threshold (chosen on held-out real drawings when it was calibrated, so that "
    "confident answers are right at least 99.8% of the time; shown on /model), or the "
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
    strokes = strokes_schema(config["MAX_STROKES"], config["MAX_STROKE_POINTS"])
    request_body = image_request_body(max_bytes, max_pixels, strokes)
    errors = image_errors(max_bytes, max_pixels, timeout_s)
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
                    "422": error_response(
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
