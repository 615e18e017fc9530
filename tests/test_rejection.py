"""Telling digits from other marks: the committed model on clear drawings, and the older models' head arrays."""

import json
import math
import re

import numpy as np
import pytest

import model
from bench.support.drawing import STYLES, draw_png
from model.network import Network
from model.preprocess import digit_field, ink_from_bytes
from model.rejection import (
    METADATA_KEY,
    THRESHOLD_KEY,
    NotDigitHead,
    RejectionArraysError,
)
from model.training import negatives


def ellipse(centre_x, centre_y, half_width, half_height, n_points=21):
    """Return a closed oval stroke as canvas points."""
    angles = np.linspace(0, 2 * math.pi, n_points)
    return list(zip(centre_x + half_width * np.sin(angles), centre_y - half_height * np.cos(angles)))


CLEAR_DIGITS = {
    "a 1": [[(140, 50), (140, 230)]],
    "a 7": [[(90, 60), (190, 60), (130, 230)]],
    "a 0": [ellipse(140, 140, 50, 85)],
}
"""Digits anyone reads as such, as canvas strokes."""

CLEAR_NON_DIGITS = {
    "a plus sign": [[(140, 60), (140, 220)], [(60, 140), (220, 140)]],
    "an A": [[(70, 230), (140, 50), (210, 230)], [(100, 160), (180, 160)]],
    "an x": [[(70, 70), (210, 210)], [(210, 70), (70, 210)]],
}
"""Characters no one reads as a digit, as canvas strokes."""


@pytest.fixture(scope="module")
def network():
    return Network.load(model.DEFAULT_MODEL_PATH)


@pytest.fixture()
def small_head():
    """An untrained head reading the two hidden layers of a 784-800-800-10 network."""
    return NotDigitHead.initialise((1, 2), 1600, (8,), np.random.default_rng(0))


def field_of(strokes, style="transparent"):
    """Draw strokes as the page would and send the PNG through the real pipeline; return the (1, 784) input."""
    return digit_field(ink_from_bytes(draw_png(strokes, style))).reshape(1, -1)


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("name", CLEAR_DIGITS)
def test_a_clear_digit_is_a_digit(network, name, style):
    assert network.recognise(field_of(CLEAR_DIGITS[name], style)).is_digit.tolist() == [True]


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("name", CLEAR_NON_DIGITS)
def test_a_clear_letter_or_symbol_is_not_a_digit(network, name, style):
    assert network.recognise(field_of(CLEAR_NON_DIGITS[name], style)).is_digit.tolist() == [False]


def test_the_decision_is_vectorised_over_the_batch(network):
    drawings = [*CLEAR_DIGITS.values(), *CLEAR_NON_DIGITS.values()]
    fields = np.concatenate([field_of(strokes) for strokes in drawings])
    together = network.recognise(fields)
    one_by_one = [network.recognise(fields[i : i + 1]) for i in range(len(drawings))]
    assert together.is_digit.tolist() == [bool(p.is_digit[0]) for p in one_by_one]
    np.testing.assert_allclose(together.probabilities, np.concatenate([p.probabilities for p in one_by_one]),
                               rtol=1e-5, atol=1e-7)


def test_the_committed_model_says_how_it_tells_digits_from_other_marks(network):
    description = network.describe()["not_digit"]
    assert re.match(r"python -m model\.(training\.)?train(_rejection)? ", description["command"])
    assert 0 < description["threshold"] < 1
    assert set(description["measuring_writers"]) >= {"digits_rejected", "others_rejected", "mnist_test_rejected"}


def test_arrays_round_trip(small_head):
    small_head.threshold = 0.75
    small_head.metadata = {"command": "python -m model.training.train_rejection --seed 3"}
    features = np.random.default_rng(1).uniform(0, 1, (5, 1600)).astype(np.float32)
    copy = NotDigitHead.from_arrays(small_head.to_arrays(), (784, 800, 800, 10))
    np.testing.assert_array_equal(copy.forward_features(features)[-1], small_head.forward_features(features)[-1])
    assert copy.describe() == small_head.describe()


def test_a_head_travels_in_the_model_file_without_pickle(network, small_head, tmp_path):
    path = tmp_path / "model.npz"
    network.with_not_digit(small_head).save(path)
    with np.load(path, allow_pickle=False) as archive:
        assert all(archive[key].dtype != object for key in archive.files)
    assert model.load(path).not_digit.layer_sizes == small_head.layer_sizes


def test_a_malformed_head_in_the_model_file_stops_loading_naming_it(network, small_head, tmp_path):
    path = tmp_path / "model.npz"
    arrays = {**network.with_not_digit(small_head).to_arrays(), "not_digit_threshold": np.array(2.0, np.float32)}
    np.savez(path, format_version=np.array(2), kind=np.array("mlp"), metadata=np.array("{}"), **arrays)
    with pytest.raises(model.ModelFileError, match="not-a-digit head: .*threshold"):
        model.load(path)


def test_arrays_beside_the_networks_own_are_ignored(small_head):
    arrays = {"W0": np.zeros((784, 800), np.float32), **small_head.to_arrays()}
    assert NotDigitHead.from_arrays(arrays).layer_sizes == (1600, 8, 1)


def spoil(arrays, key, value):
    spoilt = dict(arrays)
    if value is None:
        del spoilt[key]
    else:
        spoilt[key] = value
    return spoilt


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("not_digit_W0", None, "missing array 'not_digit_W0'"),
        ("not_digit_b1", None, "missing array 'not_digit_b1'"),
        ("not_digit_W1", np.zeros((9, 1), np.float32), "has shape (9, 1), expected (8, fan_out)"),
        ("not_digit_b0", np.zeros(7, np.float32), "has shape (7,), expected (8,)"),
        ("not_digit_W0", np.zeros((1600, 8), np.float64), "must all have the same dtype"),
        ("not_digit_b0", np.full(8, np.nan, np.float32), "NaN or infinite"),
        (THRESHOLD_KEY, np.array(1.5, np.float32), "must be a single float in [0, 1]"),
        (METADATA_KEY, np.array("{not json"), "not valid JSON"),
        (METADATA_KEY, np.array(json.dumps([1, 2])), "must be a JSON object"),
        ("not_digit_input_layers", np.array([-1]), "non-negative integers"),
        ("not_digit_format_version", np.array(99), "unsupported not_digit_format_version 99"),
    ],
)
def test_malformed_arrays_are_refused_with_a_reason(small_head, key, value, message):
    with pytest.raises(RejectionArraysError) as caught:
        NotDigitHead.from_arrays(spoil(small_head.to_arrays(), key, value))
    assert message in str(caught.value)


def test_a_head_that_does_not_fit_the_network_is_refused(small_head):
    with pytest.raises(RejectionArraysError, match="reads 1600 features, but layers"):
        NotDigitHead.from_arrays(small_head.to_arrays(), (784, 500, 500, 10))


@pytest.mark.parametrize(
    ("stroke", "fair"),
    [
        ([(140, 50), (145, 230)], True),
        (ellipse(140, 140, 50, 80), True),
        ([(60, 140), (220, 140)], False),
        ([(60, 60), (60, 180), (200, 180)], False),
    ],
    ids=["a steep line reads as 1", "a loop reads as 0", "a bar", "an L"],
)
def test_a_part_of_a_digit_that_is_itself_a_fair_digit_is_no_negative(stroke, fair):
    assert negatives.is_fair_digit_part(stroke) is fair
