"""The OpenAPI description of POST /corrections."""

from .openapi_schemas import error_response, image_errors, strokes_schema
from .uploads import IMAGE_FIELD


def corrections_paths(config):
    """Describe POST /corrections, when CORRECTIONS is on (the path does not exist otherwise)."""
    if not config.get("CORRECTIONS"):
        return {}
    max_digits = config["MAX_DIGITS"]
    body = {
        "type": "object",
        "required": [IMAGE_FIELD, "answer", "model", "label"],
        "properties": {
            IMAGE_FIELD: {
                "type": "string", "minLength": 1,
                "description": "The PNG the app read, as a data URL (data:image/png;base64,...) or bare base64.",
            },
            "strokes": strokes_schema(config["MAX_STROKES"], config["MAX_STROKE_POINTS"]),
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
            **image_errors(config["MAX_CONTENT_LENGTH"], config["MAX_IMAGE_PIXELS"],
                            config["UPLOAD_TIMEOUT_SECONDS"]),
            "201": {
                "description": "Stored.",
                "content": {"application/json": {"schema": {
                    "type": "object", "required": ["id"],
                    "properties": {"id": {"type": "string", "description": "The correction's id."}},
                }}},
            },
            "400": error_response(
                "The body, its image or one of its fields is malformed.",
                ["invalid_json", "invalid_body", "missing_image", "invalid_base64", "invalid_image",
                 "invalid_strokes", "invalid_answer", "invalid_model"],
            ),
            "422": error_response(
                f"The label is not 1 to {max_digits} digits nor null, the strokes are over their "
                f"limits, or the image declares more than {config['MAX_IMAGE_PIXELS']} pixels.",
                ["invalid_label", "too_many_strokes", "too_many_pixels"],
            ),
            "429": error_response(
                "This client sent more than CORRECTIONS_PER_MINUTE corrections in the last minute; "
                "Retry-After says when to try again.",
                ["too_many_corrections"],
            ),
            "503": error_response(
                "The database cannot be reached; Retry-After says when to try again.",
                ["storage_unavailable"],
            ),
        },
    }}}
