"""Real handwriting through the real server: a regression floor on UNIPEN drawings.

A fixed, seeded, label-stratified sample of the development trajectories is
drawn as the page's canvas would, in the style each sample suggests and with
stroke widths spread from a thin pen to a thick finger, and posted to
/predict of the Procfile's gunicorn. `python -m bench.realworld` measures
the same thing in more detail; both choose samples with the same function.
"""

from bench.realworld import PredictClient, classify_cases, regression_cases, render_case
from tests.drawing import load_handwriting

N_DRAWINGS = 200
SEED = 0
MIN_ACCURACY = 0.98
"""The floor for the deployed model on real handwriting; do not lower it to make a model pass."""

WORKERS = 2
N_MISSES_SHOWN = 20


def describe(record):
    answer = record["predicted"] if record["status"] == 200 else f"HTTP {record['status']}"
    confidence = f"{record['confidence']:.2f}" if record["confidence"] is not None else "–"
    return (
        f"#{record['index']} {record['label']}→{answer} ({confidence}) "
        f"{record['style']}, width {record['width']}, {record['writer']}"
    )


def test_development_drawings_stay_recognised(handwriting_path, live_server):
    samples = load_handwriting(handwriting_path)
    cases = regression_cases(samples, N_DRAWINGS, SEED)

    with PredictClient(live_server) as client:
        records, _ = classify_cases(
            client, samples, cases, lambda case: render_case(samples, case), WORKERS
        )

    failed = [describe(record) for record in records if record["status"] != 200]
    assert not failed, f"{len(failed)} requests failed: {failed[:N_MISSES_SHOWN]}"
    misses = [record for record in records if record["predicted"] != record["label"]]
    accuracy = (len(records) - len(misses)) / len(records)
    assert accuracy >= MIN_ACCURACY, (
        f"{accuracy:.1%} of {len(records)} development drawings recognised, "
        f"below the {MIN_ACCURACY:.0%} floor; misses:\n  "
        + "\n  ".join(describe(record) for record in misses[:N_MISSES_SHOWN])
    )
