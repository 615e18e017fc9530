"""POST /corrections: a person says what the drawing really was, and it is kept to train on.

The body is JSON: the PNG the app read, optionally its strokes, the answer
and model it came from, and the right digits (or null, "not a digit"). It is
checked field by field, then stored by app/storage.py. Nothing reads
corrections back over HTTP.

Each client may send CORRECTIONS_PER_MINUTE corrections a minute. The client
is the socket's address, or behind Heroku's router (TRUST_X_FORWARDED_FOR,
on by default where Heroku sets DYNO) the last address of X-Forwarded-For:
the router appends the address that connected to it, while anything before
it came from the client and may be forged. The counts live in this
process's memory only, never on disk: with several gunicorn workers (or
dynos) each counts on its own, so a client whose requests spread over n
workers may send up to n times the limit, and a restart forgets the counts.
"""

import collections
import json
import logging
import math
import re
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from flask import Blueprint, current_app, jsonify, request

from model.preprocess import PNG_SIGNATURE, InputImageError, TooManyPixelsError, decode_image

from .errors import ApiError, error_response
from .headers import add_cors_headers
from .storage import SQLITE_FILE, SchemaTooNewError, Storage, StorageUnavailable, sqlite_url
from .strokes import parse_strokes
from .uploads import JSON_TYPE, image_from_json, json_object, read_body

logger = logging.getLogger(__name__)

bp = Blueprint("corrections", __name__)
bp.after_request(add_cors_headers)

STORAGE_KEY = "corrections_storage"
LIMITER_KEY = "corrections_limiter"
"""Where init_app keeps the Storage and the RateLimiter in `app.extensions`."""

RATE_WINDOW_S = 60
"""CORRECTIONS_PER_MINUTE counts over any window this long."""

MAX_TRACKED_CLIENTS = 10_000
"""Clients whose recent corrections are remembered; past it, the least recently seen are forgotten."""

RETRY_AFTER_S = 30
"""How long a client is told to wait when the database cannot be reached."""

CONCURRENT_DECODES = 1
"""Correction images decoded at once per worker: a large one takes tens of MB, and corrections are rare."""

_decode_slots = threading.BoundedSemaphore(CONCURRENT_DECODES)

MODEL_ID = re.compile(r"[A-Za-z0-9._-]{1,100}")
"""A model id as `model.version` makes them (e.g. mlp-784-800-800-10-250663db)."""

STROKE_DECIMALS = 1
"""Stroke coordinates are kept to 0.1 pixel, as the UNIPEN files are."""

@bp.post("/corrections")
def create():
    """Store a correction of an answer; 201 with its id."""
    refusal = _rate_refusal()
    if refusal is not None:
        return refusal
    if request.mimetype != JSON_TYPE:
        raise ApiError(415, "unsupported_media_type",
                       f"Content-Type {request.mimetype or 'none'} is not accepted: send {JSON_TYPE}.")
    read_body(request)
    payload = json_object(request)
    config = current_app.config
    png, (width, height) = _png_from(payload, config["MAX_IMAGE_PIXELS"])
    strokes = strokes_from(payload.get("strokes"), config["MAX_STROKES"], config["MAX_STROKE_POINTS"])
    answer = _answer_from(payload, config["MAX_DIGITS"])
    model_id = _model_from(payload)
    label = _label_from(payload, config["MAX_DIGITS"])
    row = {
        "id": uuid.uuid4().hex,
        "created_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "model": model_id,
        "answer": answer,
        "label": label,
        "png": png,
        "strokes": None if strokes is None else json.dumps(strokes, separators=(",", ":")),
        "image_width": width,
        "image_height": height,
    }
    try:
        current_app.extensions[STORAGE_KEY].add(row)
    except (StorageUnavailable, SchemaTooNewError) as error:
        logger.warning("correction not stored: %s", error)
        response = error_response(503, "storage_unavailable",
                                  "Corrections cannot be stored right now; try again later.")
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
        return response
    return jsonify(id=row["id"]), 201

def client_address():
    """Return the address that rate limiting counts this request under."""
    if current_app.config["TRUST_X_FORWARDED_FOR"]:
        forwarded = request.headers.get("X-Forwarded-For", "").rsplit(",", 1)[-1].strip()
        if forwarded:
            return forwarded
    return request.remote_addr or "unknown"

def _rate_refusal():
    """Return the 429 answer for a client over CORRECTIONS_PER_MINUTE, or None; checked before the body is read."""
    wait_s = current_app.extensions[LIMITER_KEY].wait(client_address())
    if wait_s == 0:
        return None
    limit = current_app.config["CORRECTIONS_PER_MINUTE"]
    response = error_response(429, "too_many_corrections",
                              f"At most {limit} corrections a minute (CORRECTIONS_PER_MINUTE); "
                              f"try again in {wait_s} s.")
    response.headers["Retry-After"] = str(wait_s)
    return response

def _png_from(payload, max_pixels):
    """Return the PNG bytes of "image" and its (width, height); refuse what is not a whole PNG."""
    png = image_from_json(payload)
    if not png.startswith(PNG_SIGNATURE):
        raise ApiError(400, "invalid_image", "The image must be a PNG: the drawing as the app read it.")
    try:
        with _decode_slots:
            image = decode_image(png, max_pixels=max_pixels)
    except TooManyPixelsError as error:
        raise ApiError(422, "too_many_pixels", str(error)) from None
    except InputImageError as error:
        raise ApiError(400, "invalid_image", str(error)) from None
    return png, image.size

def strokes_from(strokes, max_strokes, max_points):
    """Return the strokes as lists of [x, y] floats rounded for storage, or None when none were sent.

    Read as /predict reads them (app.strokes.parse_strokes): 422
    too_many_strokes over the limits, 400 invalid_strokes for another shape.
    """
    parsed = parse_strokes(strokes, max_strokes, max_points)
    if parsed is None:
        return None
    return [np.round(stroke, STROKE_DECIMALS).tolist() for stroke in parsed]

def _answer_from(payload, max_digits):
    answer = payload.get("answer")
    if not isinstance(answer, str) or not re.fullmatch(rf"[0-9?]{{1,{max_digits}}}", answer):
        raise ApiError(400, "invalid_answer",
                       f'"answer" must be the number the app answered: 1 to {max_digits} of 0-9 or ?.')
    return answer

def _model_from(payload):
    model_id = payload.get("model")
    if not isinstance(model_id, str) or not MODEL_ID.fullmatch(model_id):
        raise ApiError(400, "invalid_model", '"model" must be the id of the model that answered.')
    return model_id

def _label_from(payload, max_digits):
    """Return the right digits, or None for "not a digit"; 422 for anything else."""
    label = payload.get("label", "")
    if label is None:
        return None
    if not isinstance(label, str) or not re.fullmatch(rf"[0-9]{{1,{max_digits}}}", label):
        raise ApiError(422, "invalid_label",
                       f'"label" must be the right digits, 1 to {max_digits} of 0-9, or null for not a digit.')
    return label

class RateLimiter:
    """At most `limit` events per client in any RATE_WINDOW_S, remembered in memory only."""

    def __init__(self, limit, window_s=RATE_WINDOW_S, max_clients=MAX_TRACKED_CLIENTS, clock=time.monotonic):
        self.limit, self.window_s, self.max_clients, self.clock = limit, window_s, max_clients, clock
        self._events = collections.OrderedDict()  # client -> deque of event times, least recent client first
        self._lock = threading.Lock()

    def wait(self, client):
        """Count an event of `client` and return 0, or the whole seconds to wait when it is over the limit."""
        now = self.clock()
        with self._lock:
            events = self._events.pop(client, None) or collections.deque(maxlen=self.limit)
            while events and events[0] <= now - self.window_s:
                events.popleft()
            self._events[client] = events
            while len(self._events) > self.max_clients:
                self._events.popitem(last=False)
            if len(events) >= self.limit:
                return max(1, math.ceil(events[0] + self.window_s - now))
            events.append(now)
            return 0

def init_app(app):
    """Open the corrections database and serve POST /corrections, unless CORRECTIONS is off.

    The database is DATABASE_URL, or a SQLite file in the instance folder.
    """
    if not app.config["CORRECTIONS"]:
        return
    url = app.config["DATABASE_URL"] or sqlite_url(Path(app.instance_path) / SQLITE_FILE)
    storage = Storage(url)
    storage.prepare()
    app.extensions[STORAGE_KEY] = storage
    app.extensions[LIMITER_KEY] = RateLimiter(app.config["CORRECTIONS_PER_MINUTE"])
    app.register_blueprint(bp)
