"""HTTP/1.1 requests as bytes, for the load generators and the bad-input tests.

A prepared request is sent again and again by `bench.support.closed_loop`;
forms are built by hand so that a test can send any layout a client might.
"""

import itertools
import os
import urllib.parse
from typing import NamedTuple

from app.uploads import IMAGE_FIELD

BOUNDARY_PREFIX = b"----WebKitFormBoundary"
BOUNDARY_TEMPLATE = BOUNDARY_PREFIX + b"0" * 16
"""Stands for a multipart boundary in a prepared request; replaced by a fresh one at each send.

Browsers draw a new boundary for every form they post, and Werkzeug
compiles two regular expressions per boundary it has not seen, so a bench
that reused one boundary would flatter the server.
"""


class Request(NamedTuple):
    """One prepared request: what it is, its bytes on the wire, and the status it must get.

    fresh_boundary : the bytes hold BOUNDARY_TEMPLATE, to be replaced at each send.
    """

    kind: str
    raw: bytes
    expected_status: int | None = None
    fresh_boundary: bool = False


JSON_ACCEPT = {"Accept": "application/json"}


def http_request(method, path, body=b"", content_type=None, host="127.0.0.1", headers=JSON_ACCEPT):
    """Return the bytes of an HTTP/1.1 request (keep-alive is HTTP/1.1's default).

    headers : name → value, sent after Host and before Content-Type and Content-Length.
    """
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if content_type is not None:
        lines.append(f"Content-Type: {content_type}")
    if body or method in {"POST", "PUT"}:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def multipart_body(parts, boundary=b"BOUNDARY"):
    """Return a multipart/form-data body of (name, file name, content type, data) parts, each bytes.

    A part whose file name is None is a text field: no file name, no content type.
    """
    body = b""
    for name, filename, content_type, data in parts:
        head = b"--" + boundary + b'\r\nContent-Disposition: form-data; name="' + name + b'"'
        if filename is not None:
            head += b'; filename="' + filename + b'"\r\nContent-Type: ' + content_type
        body += head + b"\r\n\r\n" + data + b"\r\n"
    return body + b"--" + boundary + b"--\r\n"


def image_form(data, filename="digit.png", mimetype="image/png", fields=None):
    """Return (body, content type) of a form with `data` as the file field "image", as the page's FormData.

    `fields` maps the names of other (text) fields to their values, sent
    before the file. The boundary is BOUNDARY_TEMPLATE: replace it with
    `fresh_boundary()` before sending.
    """
    texts = [(name.encode(), None, None, value.encode()) for name, value in (fields or {}).items()]
    image = (IMAGE_FIELD.encode(), filename.encode(), mimetype.encode(), data)
    body = multipart_body([*texts, image], BOUNDARY_TEMPLATE)
    return body, f"multipart/form-data; boundary={BOUNDARY_TEMPLATE.decode('latin-1')}"


def multipart_request(path, data, filename="digit.png", mimetype="image/png", fields=None):
    """Return the bytes of a form POST of `data` (and text `fields`), its boundary still BOUNDARY_TEMPLATE."""
    return http_request("POST", path, *image_form(data, filename, mimetype, fields))


_boundaries = itertools.count(int.from_bytes(os.urandom(6), "big"))


def fresh_boundary():
    """Return a boundary never used before in this process, as long as BOUNDARY_TEMPLATE."""
    return BOUNDARY_PREFIX + b"%016x" % next(_boundaries)


def host_and_port(base_url):
    """Split "http://host:port" into (host, port)."""
    parts = urllib.parse.urlsplit(base_url)
    if parts.scheme != "http" or parts.hostname is None:
        raise ValueError(f"the load generator speaks plain http://host:port, got {base_url!r}")
    return parts.hostname, parts.port or 80
