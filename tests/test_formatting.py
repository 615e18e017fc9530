"""Percentages and durations, written the same by the trainer, the report and the pages."""

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from model.formatting import UNKNOWN, duration, percent, probability_percent, utc_timestamp


@pytest.mark.parametrize(
    ("fraction", "decimals", "expected"),
    [(0.99431, 2, "99.43%"), (0.98765, 1, "98.8%"), (1, 2, "100.00%"), (np.float32(0.5), 1, "50.0%")],
)
def test_percent_rounds_to_the_decimals_asked(fraction, decimals, expected):
    assert percent(fraction, decimals) == expected


@pytest.mark.parametrize(
    ("probability", "expected"),
    [(0.996, "99%"), (np.float32(0.999), "99%"), (1.0, "100%"), (0.5, "50%"), (0.0049, "0%")],
)
def test_a_probability_is_rounded_down_so_only_certainty_reads_100(probability, expected):
    assert probability_percent(probability) == expected


@pytest.mark.parametrize("value", [None, "0.5", True, math.nan, math.inf])
def test_a_missing_or_odd_value_is_written_unknown(value):
    assert percent(value) == UNKNOWN
    assert probability_percent(value) == UNKNOWN


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(0, "0 s"), (35.4, "35 s"), (59.6, "1 min 0 s"), (725, "12 min 5 s"), (1106.4, "18 min 26 s"),
     (7385, "2 h 3 min")],
)
def test_duration_in_whole_seconds_minutes_or_hours(seconds, expected):
    assert duration(seconds) == expected


@pytest.mark.parametrize("seconds", [None, -1, math.nan, "12"])
def test_duration_of_nothing_is_none(seconds):
    assert duration(seconds) is None


def test_a_timestamp_is_now_in_utc_to_the_second():
    before = datetime.now(UTC).replace(microsecond=0)
    stamp = utc_timestamp()
    assert stamp.endswith("Z")
    moment = datetime.fromisoformat(stamp)
    assert before <= moment <= datetime.now(UTC)
    assert moment.utcoffset() == timedelta(0)
