"""Errors: one JSON shape for the whole API, {"error": {"code", "message"}}, and a page for browsers."""

import logging

from flask import current_app, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

logger = logging.getLogger(__name__)

API_BLUEPRINTS = ("api", "corrections")
"""The blueprints whose paths, and every path under them, always answer errors in JSON."""

HTML_TYPE = "text/html"
JSON_TYPE = "application/json"

PAGE_TITLES = {404: "Page not found"}
"""Titles of the error page where Werkzeug's name for the status ("Not Found") reads badly."""

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


SENTENCE_ENDS = (".", "!", "?")


def as_sentence(message):
    """Return `message` in the API's one style: a sentence, capital first, full stop last.

    The model's input errors are worded for people but written lower case,
    as Python's exceptions are; the API gives every message the same shape.
    A message ending in a parenthesis that closes a sentence ("attack.)") is one already.
    """
    message = message.strip()
    if not message:
        return message
    message = message[0].upper() + message[1:]
    return message if message.rstrip(")").endswith(SENTENCE_ENDS) else message + "."


def error_response(status, code, message):
    """Build the API's error response; every error goes through here."""
    response = jsonify(error={"code": code, "message": as_sentence(message)})
    response.status_code = status
    return response


def _handle_api_error(error):
    return error_response(error.status, error.code, error.message)


def _handle_http_exception(error):
    """Answer Werkzeug's errors (404, 405, 413, ...): the site's page for a browser, JSON for a program."""
    if _is_page_request():
        response = current_app.make_response((_error_page(error), error.code))
    else:
        code = HTTP_ERROR_CODES.get(error.code, "http_error")
        response = error_response(error.code, code, error.description)
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def _is_page_request():
    """Say whether a browser is opening a page: a path outside the API, and HTML preferred to JSON."""
    if _is_api_path(request.path):
        return False
    return request.accept_mimetypes.best_match([JSON_TYPE, HTML_TYPE]) == HTML_TYPE


def _is_api_path(path):
    """Say whether `path` is one of the API blueprint's routes or lies under one."""
    return any(
        path == rule.rule or path.startswith(rule.rule + "/")
        for rule in current_app.url_map.iter_rules()
        if rule.endpoint.partition(".")[0] in API_BLUEPRINTS
    )


def _error_page(error):
    """Render the site's error page, with the reason the app gave or else one of ours."""
    message = error.description
    if error.code == 404 and message == type(error).description:
        message = f"There is no page at {request.path}."
    return render_template(
        "error.html",
        status=error.code,
        title=PAGE_TITLES.get(error.code, error.name),
        message=message,
    )


def _handle_unexpected(error):
    """Log a bug with its traceback and answer without leaking it."""
    logger.exception("unhandled error on %s %s", request.method, request.path)
    return error_response(500, "internal_error", "The server failed to answer.")


def init_app(app):
    """Register the handlers: every error in the JSON shape, or as the error page for a browser."""
    app.register_error_handler(ApiError, _handle_api_error)
    app.register_error_handler(HTTPException, _handle_http_exception)
    app.register_error_handler(Exception, _handle_unexpected)
