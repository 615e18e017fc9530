"""When an answer is a guess: the threshold below which /predict says "confident": false."""

CONFIDENCE_THRESHOLD = 0.9
"""Top probability below which an answer is flagged as unsure.

Chosen on the UNIPEN development drawings (`python -m bench.realworld`
prints the table): see docs/accuracy.md, "Real drawings", for the
trade-off measured with the committed model.
"""


def is_confident(confidence):
    """Return whether an answer whose top probability is `confidence` may be shown as sure."""
    return confidence >= CONFIDENCE_THRESHOLD
