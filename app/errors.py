"""One JSON error shape for the whole API: {"error": {"code", "message"}}."""

import logging

from flask import jsonify, request
from werkzeug.exceptions import HTTPException

logger = logging.getLogger(__name__)

HTTP_ERROR_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable_image",
    500: "internal_error",
}
"""Machine-readable codes for errors that Flask or Werkzeug raise themselves."""


class ApiError(Exception):
    """An error the client caused, answered with `status` and a JSON body."""

    def __init__(self, status, code, message):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def error_response(status, code, message):
    """Build the API's error response; every error goes through here."""
    response = jsonify(error={"code": code, "message": message})
    response.status_code = status
    return response


def _handle_api_error(error):
    return error_response(error.status, error.code, error.message)


def _handle_http_exception(error):
    """Answer Werkzeug's errors (404, 405, 413, ...) in the API's shape.

    A person who opens a missing page in a browser still gets Flask's HTML
    page; programs get JSON.
    """
    if error.code == 404 and request.accept_mimetypes.best == "text/html":
        return error
    code = HTTP_ERROR_CODES.get(error.code, "http_error")
    response = error_response(error.code, code, error.description)
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def _handle_unexpected(error):
    """Log a bug with its traceback and answer without leaking it."""
    logger.exception("unhandled error on %s %s", request.method, request.path)
    return error_response(500, "internal_error", "The server failed to answer.")


def init_app(app):
    """Register the handlers that turn every error into the JSON shape."""
    app.register_error_handler(ApiError, _handle_api_error)
    app.register_error_handler(HTTPException, _handle_http_exception)
    app.register_error_handler(Exception, _handle_unexpected)
