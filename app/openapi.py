"""The OpenAPI 3 document that describes the JSON API."""

from model import N_CLASSES

from .confidence import CONFIDENCE_THRESHOLD
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


def openapi_document(config):
    """Return the OpenAPI document as a dict, with this app's limits filled in."""
    max_bytes = config["MAX_CONTENT_LENGTH"]
    max_pixels = config["MAX_IMAGE_PIXELS"]
    timeout_s = config["UPLOAD_TIMEOUT_SECONDS"]
    binary_image = {"schema": {"type": "string", "format": "binary"}}
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "Handwritten digit recogniser",
            "version": API_VERSION,
            "description": (
                "Post a drawing of one digit and get the digit back with the "
                "probabilities of all ten. The image is prepared as MNIST's digits "
                "were (cropped to the ink, fitted into 20x20 keeping its aspect "
                "ratio, centre of mass at the centre of 28x28). Ink may be in the "
                "alpha channel of a transparent image, dark on light, or light on "
                "dark: this is detected."
            ),
        },
        "paths": {
            "/predict": {
                "post": {
                    "operationId": "predict",
                    "summary": "Recognise the digit in an image.",
                    "parameters": [
                        {
                            "name": "preview",
                            "in": "query",
                            "required": False,
                            "description": "With 1, the answer also holds the 28x28 network input as a PNG data URL.",
                            "schema": {"type": "string", "enum": ["0", "1"]},
                        }
                    ],
                    "requestBody": {
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
                                        IMAGE_FIELD: {"type": "string", "format": "binary"}
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
                                        }
                                    },
                                }
                            },
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "The recognised digit.",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Prediction"}
                                }
                            },
                        },
                        "400": _error_response(
                            "The request holds no readable image.",
                            [
                                "invalid_image", "missing_image", "multiple_images", "invalid_base64",
                                "invalid_json", "invalid_form", "invalid_body",
                            ],
                        ),
                        "405": _error_response("Only POST is allowed.", ["method_not_allowed"]),
                        "408": _error_response(
                            f"The body did not arrive within {timeout_s} seconds.",
                            ["request_timeout"],
                        ),
                        "413": _error_response(
                            f"The body is over {max_bytes} bytes.", ["payload_too_large"]
                        ),
                        "415": _error_response(
                            "The content type, or a data URL's type, is not accepted.",
                            ["unsupported_media_type"],
                        ),
                        "422": _error_response(
                            "The image is readable but cannot be recognised: it has no "
                            f"ink, or declares more than {max_pixels} pixels.",
                            ["no_ink", "too_many_pixels"],
                        ),
                    },
                }
            },
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
                    "required": ["digit", "confidence", "confident", "probabilities", "model"],
                    "properties": {
                        "digit": {"type": "integer", "minimum": 0, "maximum": N_CLASSES - 1},
                        "confidence": {
                            "type": "number",
                            "minimum": 0,
                            "maximum": 1,
                            "description": "The probability of `digit`.",
                        },
                        "confident": {
                            "type": "boolean",
                            "description": (
                                "False when the network is unsure: `confidence` is below "
                                f"{CONFIDENCE_THRESHOLD}, a threshold chosen on real drawings "
                                "(see the README). Show the answer as a guess then."
                            ),
                        },
                        "probabilities": {
                            "type": "array",
                            "minItems": N_CLASSES,
                            "maxItems": N_CLASSES,
                            "items": {"type": "number", "minimum": 0, "maximum": 1},
                            "description": "The probability of each digit 0-9; they sum to 1.",
                        },
                        "model": {"type": "string", "description": "Id of the model that answered."},
                        "preview": {
                            "type": "string",
                            "description": "With ?preview=1: the 28x28 network input as a PNG data URL.",
                        },
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
