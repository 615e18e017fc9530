"""Make the probabilities honest and choose the thresholds, on drawings held out from fitting.

Three numbers, all chosen on the calibration writers (training writers kept
out of fitting, `model.training.canvas.is_calibration_writer`) and MNIST's
validation split, never on measuring writers or the test set:

- the temperature that minimises the cross-entropy of the ten digit
  probabilities of held-out digits (temperature scaling, Guo et al. 2017);
- the digit threshold: the digits' share of the probability below which a
  drawing is not a digit, rejecting DIGIT_REJECTION of held-out digits;
- the confidence threshold: the lowest top probability at which the
  calibrated probabilities of the answers it lets through, on held-out
  canvas digits, average at least CONFIDENT_PRECISION: what those answers'
  own probabilities promise, once made honest.

The confidence threshold is not chosen by counting wrong answers: 1,232
held-out canvas digits allow two or three wrong answers at 99.8%, and
UNIPEN holds drawings labelled otherwise than they look (a clear 2 labelled
7, another labelled 1), which a network rightly reads with 0.9999. Counted,
they pushed the threshold to its 0.999 ceiling and left a third of the
digits unsure. The observed precision and share are still measured, on the
held-out writers here and on the measuring writers by model.training.measure.
"""

import numpy as np
from scipy.special import log_softmax

from model.constants import N_CLASSES

TEMPERATURES = np.exp(np.linspace(np.log(0.25), np.log(8.0), 301))
"""Temperatures tried, evenly spaced in log."""

DIGIT_REJECTION = 0.003
"""Share of held-out digits the digit threshold may reject (the target is at most 0.5 %)."""

CONFIDENT_PRECISION = 0.998
"""Share of confident answers that must be right."""

CONFIDENCE_GRID = np.linspace(0.5, 0.999, 500)
"""Confidence thresholds tried."""


def fit_temperature(Z, y):
    """Return the temperature minimising the mean cross-entropy of softmax(Z / T) for digits y.

    Z : ndarray (n, >= 10), output pre-activations at temperature 1; only the ten digits are read
    y : ndarray (n,), the digits
    """
    digit_logits = np.asarray(Z, dtype=np.float64)[:, :N_CLASSES]
    rows = np.arange(len(y))
    losses = [-log_softmax(digit_logits / T, axis=1)[rows, y].mean() for T in TEMPERATURES]
    return float(TEMPERATURES[int(np.argmin(losses))])


def digit_threshold(log_shares, rejection=DIGIT_REJECTION):
    """Return the digits' share of probability below which `rejection` of these digits fall.

    log_shares : ndarray (n,), the log of each held-out digit's digits' share
    """
    return float(np.exp(np.quantile(log_shares, rejection)))


def confidence_threshold(confidence, precision=CONFIDENT_PRECISION):
    """Return the lowest threshold at which the answers at or above it promise `precision` on average.

    confidence : ndarray (n,), the calibrated top digit probability of each answer (0 for is_digit false)
    The promise is required of every higher threshold too, so that the
    choice does not rest on a lucky dip.
    """
    thresholds = CONFIDENCE_GRID
    promised = np.array([confidence[confidence >= t].mean() if (confidence >= t).any() else 1.0 for t in thresholds])
    ok_from_here = np.flip(np.minimum.accumulate(np.flip(promised >= precision)))
    index = int(np.argmax(ok_from_here)) if ok_from_here.any() else len(thresholds) - 1
    return float(thresholds[index])


def calibrate(network, mnist_X, mnist_y, canvas_X, canvas_y, others_X=None):
    """Return (calibrated network, figures dict) from held-out MNIST and canvas digits.

    mnist_X, canvas_X : (n, 784) inputs; mnist_y, canvas_y: their digits
    others_X          : (m, 784) held-out non-digits, only measured
    """
    Z_mnist = network.logits(mnist_X)[1]
    Z_canvas = network.logits(canvas_X)[1]
    temperature = fit_temperature(np.concatenate([Z_mnist, Z_canvas]), np.concatenate([mnist_y, canvas_y]))
    share_mnist = network.digit_share_log(Z_mnist / temperature)
    share_canvas = network.digit_share_log(Z_canvas / temperature)
    threshold = min(digit_threshold(share_mnist), digit_threshold(share_canvas)) if network.output_labels else None
    calibrated = network.with_calibration(temperature=temperature, digit_threshold=threshold)
    prediction = calibrated.recognise(canvas_X)
    confidence = np.where(prediction.is_digit, prediction.probabilities.max(axis=1), 0.0)
    right = prediction.probabilities.argmax(axis=1) == canvas_y
    sure = confidence_threshold(confidence)
    calibrated = calibrated.with_calibration(confidence_threshold=sure)
    confident = confidence >= sure
    figures = {
        "temperature": temperature,
        "digit_threshold": threshold,
        "confidence_threshold": sure,
        "held_out_canvas_digits": int(len(canvas_y)),
        "held_out_mnist_digits": int(len(mnist_y)),
        "held_out_canvas_accuracy": float(right.mean()) if len(right) else None,
        "held_out_confident_share": float(confident.mean()) if len(right) else None,
        "held_out_confident_right": float(right[confident].mean()) if confident.any() else None,
        "held_out_digits_rejected": float(1 - prediction.is_digit.mean()) if len(right) else None,
    }
    if others_X is not None and len(others_X):
        figures["held_out_others_rejected"] = float(1 - calibrated.recognise(others_X).is_digit.mean())
    return calibrated, figures
