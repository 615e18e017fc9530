"""Configuration read from environment variables, with safe defaults."""

import os

from model.constants import DEFAULT_MODEL_PATH
from model.preprocess import DEFAULT_MAX_PIXELS
from model.recognise import DEFAULT_MAX_DIGITS

from .strokes import DEFAULT_MAX_STROKE_POINTS, DEFAULT_MAX_STROKES

DEFAULT_MAX_UPLOAD_BYTES = 2 * 1024 * 1024
"""Largest request body accepted: a 280x280 canvas PNG is a few kilobytes."""

DEFAULT_UPLOAD_TIMEOUT_SECONDS = 20
"""Longest time a request body may take to arrive (408 after it).

A slow client holds a server thread while it sends, and Heroku's router
does not bound that (its 30 s request timeout starts only once the whole
body has reached the dyno); this does. Twenty seconds is Apache mod_reqtimeout's
default for a body and lets a 2 MB photo through at 1 Mbit/s."""

DEFAULT_CORRECTIONS_PER_MINUTE = 20
"""Corrections one client may send in a minute (429 above it): a person correcting by hand sends a few."""

SWITCH_VALUES = {"on": True, "true": True, "1": True, "yes": True,
                 "off": False, "false": False, "0": False, "no": False}
"""Spellings of a variable that turns a feature on or off."""

HEROKU_DYNO_VARIABLE = "DYNO"
"""Heroku sets it on every dyno: there, requests come through Heroku's router."""


def config_from_env(environ=None):
    """Return the app's settings, taking each from `environ` when it is set.

    Bad values stop start-up with a message naming the variable, rather than
    running with a limit nobody asked for.
    """
    environ = os.environ if environ is None else environ
    return {
        "MODEL_PATH": environ.get("MODEL_PATH", str(DEFAULT_MODEL_PATH)),
        "MAX_CONTENT_LENGTH": _positive_int(
            environ, "MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD_BYTES
        ),
        "MAX_IMAGE_PIXELS": _positive_int(
            environ, "MAX_IMAGE_PIXELS", DEFAULT_MAX_PIXELS
        ),
        "MAX_DIGITS": _positive_int(environ, "MAX_DIGITS", DEFAULT_MAX_DIGITS),
        "MAX_STROKES": _positive_int(environ, "MAX_STROKES", DEFAULT_MAX_STROKES),
        "MAX_STROKE_POINTS": _positive_int(
            environ, "MAX_STROKE_POINTS", DEFAULT_MAX_STROKE_POINTS
        ),
        "UPLOAD_TIMEOUT_SECONDS": _positive_int(
            environ, "UPLOAD_TIMEOUT_SECONDS", DEFAULT_UPLOAD_TIMEOUT_SECONDS
        ),
        "CORRECTIONS": _switch(environ, "CORRECTIONS", True),
        "CORRECTIONS_PER_MINUTE": _positive_int(
            environ, "CORRECTIONS_PER_MINUTE", DEFAULT_CORRECTIONS_PER_MINUTE
        ),
        "DATABASE_URL": environ.get("DATABASE_URL", "").strip() or None,
        "TRUST_X_FORWARDED_FOR": _switch(
            environ, "TRUST_X_FORWARDED_FOR", HEROKU_DYNO_VARIABLE in environ
        ),
    }


def _switch(environ, name, default):
    """Read `name` from `environ` as on or off, or return `default`."""
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return SWITCH_VALUES[raw.strip().lower()]
    except KeyError:
        raise ValueError(f"{name} must be on or off, got {raw!r}") from None


def _positive_int(environ, name, default):
    """Read `name` from `environ` as a positive integer, or return `default`."""
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a positive integer, got {raw!r}") from None
    if value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {raw!r}")
    return value
