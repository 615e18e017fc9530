"""Numbers and times as the trainer, the report and the pages write them: one rounding each."""

import math
import numbers
from datetime import UTC, datetime

UNKNOWN = "–"
"""Written where a number is missing or not finite."""

PERCENT = 100
SECONDS_PER_MINUTE = 60
SECONDS_PER_HOUR = 3600

TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
"""ISO 8601 in UTC to the second, as model files and reports record when they were made."""


def is_number(value):
    """Return True for a finite real number (NumPy's included), False for None, text, booleans, NaN.

    Every figure read back from a model file or a report goes through this
    one check before it is written or drawn.
    """
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def percent(fraction, decimals=2):
    """Write a fraction as a percentage rounded to `decimals`: 0.98412 is '98.41%'; UNKNOWN when missing."""
    if not is_number(fraction):
        return UNKNOWN
    return f"{fraction:.{decimals}%}"


def probability_percent(probability):
    """Write a probability as a whole percentage rounded down: 0.996 is '99%', only certainty is '100%'."""
    if not is_number(probability):
        return UNKNOWN
    return f"{math.floor(probability * PERCENT)}%"


def duration(seconds):
    """Write a duration in seconds as '35 s', '12 min 5 s' or '2 h 3 min'; None when missing or negative."""
    if not is_number(seconds) or seconds < 0:
        return None
    seconds = round(seconds)
    hours, rest = divmod(seconds, SECONDS_PER_HOUR)
    minutes, seconds = divmod(rest, SECONDS_PER_MINUTE)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {seconds} s"
    return f"{seconds} s"


def utc_timestamp():
    """Return the current time as TIMESTAMP_FORMAT writes it: '2026-11-23T14:45:53Z'."""
    return datetime.now(UTC).strftime(TIMESTAMP_FORMAT)
