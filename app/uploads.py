"""Take the image bytes out of a /predict request, in any of its three forms.

The whole body is read first, within a time limit, and each form is then
parsed from that one copy in memory: a multipart form, a raw image, or JSON.
"""

import base64
import binascii
import heapq
import io
import itertools
import os
import re
import socket
import threading
import time

from flask import current_app
from werkzeug.exceptions import ClientDisconnected, HTTPException, RequestEntityTooLarge
from werkzeug.formparser import FormDataParser
from werkzeug.http import parse_options_header

from .errors import ApiError

IMAGE_FIELD = "image"
"""Name of the form field, and of the JSON key, that carries the image."""

FORM_TYPE = "multipart/form-data"
JSON_TYPE = "application/json"

CRLF = b"\r\n"
"""The line break of multipart forms (RFC 2046)."""

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

    Accepts a multipart form with the file in the field "image", a raw image
    body, or a JSON object {"image": data URL or bare base64}. The content
    type is checked before the body is read.
    """
    mimetype = request.mimetype
    if mimetype != FORM_TYPE and mimetype != JSON_TYPE and mimetype not in RAW_IMAGE_TYPES:
        shown = mimetype or "none"
        raise ApiError(
            415,
            "unsupported_media_type",
            f"Content-Type {shown} is not accepted: send {FORM_TYPE} with "
            f"the field '{IMAGE_FIELD}', a raw image body "
            f"({', '.join(sorted(RAW_IMAGE_TYPES))}), or {JSON_TYPE}.",
        )
    body = read_body(request, current_app.config["UPLOAD_TIMEOUT_SECONDS"])
    if mimetype == FORM_TYPE:
        return _from_multipart(request, body)
    if mimetype == JSON_TYPE:
        return _from_json(request)
    if not body:
        raise ApiError(400, "missing_image", "The request body is empty.")
    return body


class UploadWatchdog:
    """One thread per process that shuts connections whose upload deadline has passed.

    A thread per request (threading.Timer) cost about 0.1 to 0.2 ms to start
    and stop, a few per cent of a /predict; here a request only pushes its
    deadline onto a heap. The thread is started on first use in each process,
    so a gunicorn worker forked from a preloaded master gets its own.
    """

    def __init__(self):
        self._pid = None
        self._start_lock = threading.Lock()

    def _ensure_running(self):
        """Start the watching thread in this process if it is not running yet."""
        if self._pid == os.getpid():
            return
        with self._start_lock:
            if self._pid == os.getpid():
                return
            self._condition = threading.Condition()
            self._deadlines = []
            self._counter = itertools.count()
            threading.Thread(target=self._run, name="upload-watchdog", daemon=True).start()
            self._pid = os.getpid()

    def watch(self, deadline, seconds):
        """Call deadline.expire() after `seconds` unless it is cancelled first."""
        self._ensure_running()
        with self._condition:
            heapq.heappush(self._deadlines, (time.monotonic() + seconds, next(self._counter), deadline))
            if self._deadlines[0][2] is deadline:
                self._condition.notify()

    def _run(self):
        condition, deadlines = self._condition, self._deadlines
        while True:
            with condition:
                while not deadlines or deadlines[0][0] > time.monotonic():
                    condition.wait(deadlines[0][0] - time.monotonic() if deadlines else None)
                _, _, deadline = heapq.heappop(deadlines)
            if not deadline.cancelled:
                deadline.expire()


_watchdog = UploadWatchdog()


class UploadDeadline:
    """Stop reading a request body once `seconds` have passed.

    A client that sends its body a byte at a time holds a server thread for
    as long as it likes, and a per-read socket timeout does not help: each
    read gets its byte in time. So the deadline is for the whole body. When
    it passes, the reading side of the connection is shut down, which wakes
    the blocked read with end-of-file; the answer can still be written.

    `sock` is the connection's socket (gunicorn puts it in the WSGI environ
    as "gunicorn.socket"); without one, as in Flask's test client, there is
    no deadline.
    """

    def __init__(self, sock, seconds):
        self.expired = False
        self.cancelled = False
        self._sock = sock
        self._seconds = seconds

    def expire(self):
        """Shut the reading side of the connection; called by the watchdog."""
        self.expired = True
        try:
            self._sock.shutdown(socket.SHUT_RD)
        except OSError:
            pass  # the connection is already closed

    def __enter__(self):
        if self._sock is not None:
            _watchdog.watch(self, self._seconds)
        return self

    def __exit__(self, *exc_info):
        self.cancelled = True


def read_body(request, timeout_s):
    """Return the whole request body, read within `timeout_s` seconds, and keep it for parsing.

    Raises ApiError 408 when the body did not arrive in time, 400 when it was
    cut short or its chunked encoding is malformed, and RequestEntityTooLarge
    (413) over MAX_CONTENT_LENGTH, with or without a Content-Length.
    """
    sock = request.environ.get("gunicorn.socket")
    if not request.environ.get("SERVER_PROTOCOL", "").startswith("HTTP/1."):
        sock = None  # an HTTP/2 connection carries other requests: never shut it
    deadline = UploadDeadline(sock, timeout_s)
    with deadline:
        body = _read_or_none(request)
    expected = request.content_length
    if body is None or (expected is not None and len(body) < expected):
        if deadline.expired:
            raise _upload_timeout(timeout_s)
        raise ApiError(
            400, "invalid_body",
            "The request body could not be read whole: the connection was cut, "
            "or its chunked encoding is malformed.",
        )
    if deadline.expired and expected is None:
        raise _upload_timeout(timeout_s)  # a chunked body's end looks like the shut-down
    limit = request.max_content_length
    if expected is None and limit is not None and len(body) >= limit:
        # Werkzeug stops a body without Content-Length (chunked) at the limit
        # without saying so; one that fills it is taken as over it.
        raise RequestEntityTooLarge()
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


def _upload_timeout(timeout_s):
    return ApiError(
        408, "request_timeout",
        f"The request body did not arrive within {timeout_s} s.",
    )


def _in_memory_file(*_args, **_kwargs):
    """Keep uploaded files in memory: the body is already there, and bounded."""
    return io.BytesIO()


def _from_multipart(request, body):
    data = single_image_part(body, request.mimetype_params.get("boundary", ""))
    images = [data] if data is not None else _images_parsed_by_werkzeug(request, body)
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
    return images[0]


def single_image_part(body, boundary):
    """Return the file of a form whose only part is the file "image", or None for any other form.

    Werkzeug's parser compiles two regular expressions for each new boundary
    (0.23 ms, about a tenth of a whole /predict) and browsers make a new
    boundary for every form. The page's FormData, curl -F and Python's
    requests all send this one layout: the first delimiter, CRLF-separated
    headers with a Content-Disposition naming the field "image" and a file
    name, a blank line, the file, the closing delimiter. Anything else, from
    a preamble or bare LF line breaks to a malformed form, gives None and
    is left to Werkzeug, so both read a form the same way.
    """
    if not boundary or not boundary.isascii():
        return None
    delimiter = b"--" + boundary.encode("ascii")
    if body.count(delimiter) != 2 or not body.startswith(delimiter + CRLF):
        return None
    head, blank_line, rest = body[len(delimiter) + len(CRLF) :].partition(CRLF + CRLF)
    content, closed, epilogue = rest.partition(CRLF + delimiter + b"--")
    if not blank_line or not closed or epilogue not in (b"", CRLF):
        return None
    disposition = None
    for line in head.split(CRLF):
        if not line or line[:1] in (b" ", b"\t") or b"\r" in line or b"\n" in line:
            return None  # folded or broken header lines
        try:
            name, _, value = line.decode().partition(":")
        except UnicodeDecodeError:
            return None
        if disposition is None and name.strip(" \t").lower() == "content-disposition":
            disposition = value.strip(" \t")
    if disposition is None:
        return None
    _, options = parse_options_header(disposition)
    if options.get("name") != IMAGE_FIELD or options.get("filename") is None:
        return None
    return content


def _images_parsed_by_werkzeug(request, body):
    """Return the contents of every file in the field "image", parsed by Werkzeug's form parser."""
    parser = FormDataParser(
        stream_factory=_in_memory_file,
        max_form_memory_size=request.max_form_memory_size,
        max_form_parts=request.max_form_parts,
        silent=False,
    )
    try:
        _, _, files = parser.parse(io.BytesIO(body), FORM_TYPE, len(body), request.mimetype_params)
    except ValueError:
        raise ApiError(
            400, "invalid_form",
            "The multipart form is malformed: it has no boundary, is cut short, "
            "or has names that are not UTF-8.",
        ) from None
    return [image.read() for image in files.getlist(IMAGE_FIELD)]


def _from_json(request):
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
