"""When an answer is a guess: the threshold below which /predict says "confident": false."""

DEFAULT_CONFIDENCE_THRESHOLD = 0.9
"""Top probability below which an answer is flagged as unsure, for a model that chose none.

A calibrated model file carries its own threshold, chosen on held-out
training writers so that confident answers are right 99.8 % of the time
(docs/training.md, "Calibration"); older files, calibrated by nobody,
keep this one, chosen on the UNIPEN development drawings.
"""


def confidence_threshold(model):
    """Return the top probability from which the model's answers may be shown as sure."""
    threshold = model.confidence_threshold
    return DEFAULT_CONFIDENCE_THRESHOLD if threshold is None else threshold


def is_confident(confidence, threshold):
    """Return whether an answer whose top probability is `confidence` may be shown as sure."""
    return confidence >= threshold
