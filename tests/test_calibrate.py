"""Calibration: the temperature found is the one that made the answers, and the thresholds hold on held-out data."""

import numpy as np
import pytest
from scipy.special import softmax

from model.training.calibrate import confidence_threshold, digit_threshold, fit_temperature

TRUE_TEMPERATURE = 2.5


def answers_drawn_at(temperature, n, seed):
    """Logits and digits drawn from softmax(logits / temperature): a network too sure by `temperature`."""
    rng = np.random.default_rng(seed)
    Z = rng.normal(0, 6, (n, 10))
    P = softmax(Z / temperature, axis=1)
    y = (P.cumsum(axis=1) > rng.random((n, 1))).argmax(axis=1)
    return Z, y


def test_the_fitted_temperature_is_the_one_that_made_the_answers():
    Z, y = answers_drawn_at(TRUE_TEMPERATURE, 20000, seed=0)
    assert fit_temperature(Z, y) == pytest.approx(TRUE_TEMPERATURE, rel=0.05)


def test_calibrated_probabilities_are_honest_on_held_out_answers():
    Z, y = answers_drawn_at(TRUE_TEMPERATURE, 20000, seed=1)
    temperature = fit_temperature(Z, y)
    Z_held, y_held = answers_drawn_at(TRUE_TEMPERATURE, 20000, seed=2)
    P = softmax(Z_held / temperature, axis=1)
    confidence, right = P.max(axis=1), P.argmax(axis=1) == y_held
    for low, high in ((0.5, 0.7), (0.7, 0.9), (0.9, 1.0)):
        chosen = (confidence >= low) & (confidence < high)
        assert right[chosen].mean() == pytest.approx(confidence[chosen].mean(), abs=0.03)


def test_the_confidence_threshold_keeps_its_precision_on_held_out_answers():
    Z, _ = answers_drawn_at(1.0, 20000, seed=3)
    threshold = confidence_threshold(softmax(Z, axis=1).max(axis=1), precision=0.99)
    Z_held, y_held = answers_drawn_at(1.0, 20000, seed=4)
    P_held = softmax(Z_held, axis=1)
    sure = P_held.max(axis=1) >= threshold
    assert (P_held.argmax(axis=1) == y_held)[sure].mean() >= 0.985
    assert 0.5 < threshold < 0.999


def test_the_confidence_threshold_is_the_lowest_whose_answers_promise_the_precision():
    confidence = np.random.default_rng(6).uniform(0.5, 1.0, 20000)
    threshold = confidence_threshold(confidence, precision=0.95)
    assert confidence[confidence >= threshold].mean() >= 0.95
    assert confidence[confidence >= threshold - 0.01].mean() < 0.95


def test_the_digit_threshold_rejects_the_share_asked_for():
    log_shares = np.log(np.random.default_rng(5).random(10000))
    threshold = digit_threshold(log_shares, rejection=0.01)
    assert np.mean(log_shares < np.log(threshold)) == pytest.approx(0.01, abs=0.002)
