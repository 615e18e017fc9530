"""Capture the request the page really sends to the API, to replay it in a benchmark.

A digit is drawn on the page's pad in headless Chromium with pointer input,
and the last POST the page makes after the drawing is recorded as it went
out: method, URL with its query, headers and body. Nothing here knows what
the page sends (a multipart form, a raw image/png body, JSON) or where (any
path, any query), so the benchmark measures whatever the page does today.
"""

import base64
import time
import urllib.parse
import urllib.request
from typing import NamedTuple

from playwright.sync_api import sync_playwright
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request as WerkzeugRequest

from app.uploads import IMAGE_FIELD
from bench.support.chromium import PAD_SELECTOR, draw_on_page, launch_chromium, nudging
from bench.support.http import BOUNDARY_TEMPLATE, Request, http_request

VIEWPORT = {"width": 1280, "height": 900}

ANSWER_DEADLINE_S = 15
"""How long the page may take to send its drawing and get the answer."""

STABLE_S = 0.3
"""The last request counts as final once nothing new has been sent for this long with nothing in flight."""

NOT_REPLAYED = frozenset({"host", "content-length", "connection", "transfer-encoding", "keep-alive"})
"""Headers the replaying client sets itself (or that describe one connection, not the request)."""

FORM_BOUNDARY = "boundary="


class CapturedRequest(NamedTuple):
    """A request as the page sent it; `target` is the path with its query, e.g. "/predict?preview=1"."""

    method: str
    target: str
    headers: dict
    body: bytes
    status: int

    @property
    def content_type(self):
        return self.headers.get("content-type", "")

    def describe(self):
        """Return a one-line description: method, target, content type and body size."""
        kind = self.content_type.split(";", 1)[0] or "no content type"
        return f"{self.method} {self.target} ({kind}, {len(self.body):,}-byte body) → {self.status}"


class PageCapture:
    """Record the page's POST requests in order, with their bodies as sent."""

    def __init__(self, page):
        self.issued = []
        self.finished = set()
        self.bodies = {}
        page.on("request", self._on_request)
        page.on("requestfinished", self._on_finished)
        page.on("requestfailed", self._on_finished)
        page.route("**/*", self._on_route)

    def _on_request(self, request):
        if request.method == "POST":
            self.issued.append(request)

    def _on_finished(self, request):
        if request.method == "POST":
            self.finished.add(request)

    def _on_route(self, route):
        # Read in the route: a finished request's post_data_buffer leaves out a form's Blob.
        if route.request.method == "POST":
            self.bodies[route.request] = route.request.post_data_buffer or b""
        route.continue_()

    def in_flight(self):
        return sum(request not in self.finished for request in self.issued)


def wait_for_last_request(page, capture, issued_before, deadline_s=ANSWER_DEADLINE_S):
    """Return the last POST the page sent after the drawing, once it is answered and nothing follows it."""
    last_count, stable_since = None, time.monotonic()
    for _ in nudging(page, deadline_s):
        count = len(capture.issued)
        if count != last_count:
            last_count, stable_since = count, time.monotonic()
            continue
        quiet = count > issued_before and capture.in_flight() == 0
        if quiet and time.monotonic() - stable_since >= STABLE_S:
            return capture.issued[-1]
    raise TimeoutError(
        f"the page sent {len(capture.issued) - issued_before} POST requests in {deadline_s} s after the drawing, "
        f"{capture.in_flight()} still in flight"
    )


def capture_page_request(base_url, strokes):
    """Draw `strokes` on the page at `base_url` in Chromium; return the CapturedRequest of its answer.

    strokes : list of strokes, each a list of (x, y) points in drawing units
    """
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_context(viewport=VIEWPORT).new_page()
            capture = PageCapture(page)
            page.goto(base_url + "/", wait_until="load")
            page.locator(PAD_SELECTOR).scroll_into_view_if_needed()
            issued_before = len(capture.issued)
            draw_on_page(page, strokes)
            request = wait_for_last_request(page, capture, issued_before)
            response = request.response()
            url = urllib.parse.urlsplit(request.url)
            return CapturedRequest(
                method=request.method,
                target=urllib.parse.urlunsplit(("", "", url.path, url.query, "")),
                headers={name.lower(): value for name, value in request.all_headers().items()},
                body=capture.bodies.get(request, b""),
                status=response.status if response is not None else None,
            )
        finally:
            browser.close()


def templated(captured):
    """Return (headers, body, templated) of the captured request, ready to send again.

    Connection headers are left out. A multipart boundary as long as
    BOUNDARY_TEMPLATE (Chromium's are) is swapped for the template, and
    `templated` says so: the sender replaces it with a fresh boundary each
    time, as each of the page's forms has its own.
    """
    headers = {name: value for name, value in captured.headers.items() if name not in NOT_REPLAYED}
    _, _, boundary = captured.content_type.partition(FORM_BOUNDARY)
    boundary = boundary.split(";", 1)[0].strip('"')
    if not boundary or len(boundary) != len(BOUNDARY_TEMPLATE):
        return headers, captured.body, False
    template = BOUNDARY_TEMPLATE.decode("latin-1")
    headers["content-type"] = captured.content_type.replace(boundary, template)
    return headers, captured.body.replace(boundary.encode("latin-1"), BOUNDARY_TEMPLATE), True


def replay_request(kind, captured, target=None, expected_status=200):
    """Return a bench.support.http Request that sends the captured request again, to `target` if given."""
    headers, body, fresh = templated(captured)
    raw = http_request(captured.method, target or captured.target, body, headers=headers)
    return Request(kind, raw, expected_status, fresh_boundary=fresh)


def image_of(captured):
    """Return the image bytes the captured request carries, however it carries them.

    A multipart form's "image" file, a JSON body's "image" (a data URL or
    bare base64), or else the body itself (a raw image body).
    """
    environ = EnvironBuilder(
        path=captured.target,
        method=captured.method,
        headers={name: value for name, value in captured.headers.items() if name not in NOT_REPLAYED},
        data=captured.body,
    ).get_environ()
    request = WerkzeugRequest(environ)
    if request.mimetype == "multipart/form-data":
        return request.files[IMAGE_FIELD].read()
    if request.is_json:
        image = request.get_json()[IMAGE_FIELD]
        if image.startswith("data:"):
            with urllib.request.urlopen(image) as data_url:
                return data_url.read()
        return base64.b64decode(image)
    return captured.body
