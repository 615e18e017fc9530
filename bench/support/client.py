"""A small HTTP client for the image endpoints: keep-alive connections, one per thread, JSON answers."""

import base64
import http.client
import json
import threading
import urllib.parse

REQUEST_TIMEOUT_S = 30


class PredictClient:
    """Post PNGs to /predict over one keep-alive connection per thread.

    Use as a context manager, or call `close`, so that no socket is left open.
    """

    def __init__(self, base_url, timeout=REQUEST_TIMEOUT_S):
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError(f"the server URL must be http(s)://host[:port], got {base_url!r}")
        self._connection_type = (
            http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        )
        self._netloc = parts.netloc
        self.base_url = base_url.rstrip("/")
        self._prefix = parts.path.rstrip("/")
        self._timeout = timeout
        self._local = threading.local()
        self._opened = []
        self._lock = threading.Lock()

    def _connection(self):
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._connection_type(self._netloc, timeout=self._timeout)
            self._local.connection = connection
            with self._lock:
                self._opened.append(connection)
        return connection

    def _drop_connection(self):
        self._local.connection.close()
        self._local.connection = None

    def request(self, method, path, body=None, headers=None):
        """Send one request; return (status, decoded JSON body).

        A keep-alive connection the server has closed is reopened once:
        /predict has no side effects, so repeating it is safe.
        """
        for attempt in range(2):
            connection = self._connection()
            try:
                connection.request(method, self._prefix + path, body=body, headers=headers or {})
                response = connection.getresponse()
                payload = response.read()
            except (http.client.HTTPException, OSError):
                self._drop_connection()
                if attempt == 1:
                    raise
                continue
            if response.will_close:
                self._drop_connection()
            return response.status, json.loads(payload)

    def predict_png(self, png, path="/predict"):
        """Post PNG bytes as a raw image/png body to /predict (or another image endpoint)."""
        return self.request(
            "POST", path, png, {"Content-Type": "image/png", "Accept": "application/json"}
        )

    def model_version(self):
        """Return the model version the server reports on /healthz."""
        status, body = self.request("GET", "/healthz")
        return body.get("model") if status == 200 else None

    def close(self):
        with self._lock:
            for connection in self._opened:
                connection.close()
            self._opened.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}
"""Headers of a JSON request, as the page sends it."""


def page_json(png, strokes):
    """Return the JSON body the page sends: the PNG as a data URL and its strokes."""
    image = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    return json.dumps({"image": image, "strokes": strokes}).encode()
