"""The drawing library: round ticks, and pictures drawn large then shrunk to their final size."""

import numpy as np
import pytest

from model.evaluation.chart_drawing import WHITE, Canvas, format_tick, nice_ticks


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (0.873, 0.991, [0.85, 0.9, 0.95, 1.0]),
        (0.02, 0.74, [0.0, 0.2, 0.4, 0.6, 0.8]),
        (1, 30, [0, 10, 20, 30]),
        (3, 3, [2, 3, 4]),
    ],
)
def test_nice_ticks_are_round_numbers_that_cover_the_data(low, high, expected):
    integer = isinstance(low, int)
    np.testing.assert_allclose(nice_ticks(low, high, integer=integer), expected)


@pytest.mark.parametrize(("value", "step", "expected"), [(0.85, 0.05, "0.85"), (20.0, 10.0, "20"), (0.5, 0.25, "0.50")])
def test_a_tick_has_just_the_decimals_its_step_needs(value, step, expected):
    assert format_tick(value, step) == expected


def test_a_finished_canvas_has_its_final_size_and_smoothed_edges():
    canvas = Canvas((40, 20))
    canvas.line([(0, 10.5), (40, 10.5)], (0, 0, 0), width=1)
    picture = canvas.finish()
    assert picture.size == (40, 20) and picture.mode == "RGB"
    column = np.asarray(picture)[:, 20, 0]
    assert column.min() < WHITE[0], "the line is drawn"
    assert set(column.tolist()) - {0, WHITE[0]}, "its edge is a grey level, not only black and white"
