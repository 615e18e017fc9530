"""Real handwriting through the real server: regression floors on UNIPEN drawings, numbers and non-digits.

A fixed, seeded, label-stratified sample of the measuring writers' trajectories is
drawn as the page's canvas would, in the style each sample suggests and with
stroke widths spread from a thin pen to a thick finger, and posted to
/predict of the Procfile's gunicorn. `python -m bench.realworld` measures
the same thing in more detail; both choose samples with the same function.
"""

import numpy as np
import pytest

from bench.support.client import JSON_HEADERS, PredictClient, page_json
from bench.support.compose import compose_numbers, number_png
from bench.support.drawing import draw_png
from bench.support.samples import classify_cases, regression_cases, render_case
from model.training.handwriting import load_handwriting, split_by_writer

NUMBER_PATH = "/predict/number"

N_DRAWINGS = 200
SEED = 0

TARGET_ACCURACY = 0.98
"""The issue's target for real handwriting; do not lower it to make a model pass."""

WORKERS = 2
N_MISSES_SHOWN = 20


def describe(record):
    answer = record["predicted"] if record["status"] == 200 else f"HTTP {record['status']}"
    confidence = f"{record['confidence']:.2f}" if record["confidence"] is not None else "–"
    return (
        f"#{record['index']} {record['label']}→{answer} ({confidence}) "
        f"{record['style']}, width {record['width']}, {record['writer']}"
    )


@pytest.fixture(scope="module")
def answers(handwriting_path, live_server):
    """The server's answers for a fixed sample of the measuring writers' drawings (the others are trained on)."""
    _, samples = split_by_writer(load_handwriting(handwriting_path))
    cases = regression_cases(samples, N_DRAWINGS, SEED)
    with PredictClient(live_server) as client:
        records, _ = classify_cases(
            client, samples, cases, lambda case: render_case(samples, case), WORKERS
        )
    return records


def accuracy_report(records, threshold):
    misses = [record for record in records if record["predicted"] != record["label"]]
    accuracy = (len(records) - len(misses)) / len(records)
    message = (
        f"{accuracy:.1%} of {len(records)} development drawings recognised, "
        f"below {threshold:.0%}; misses:\n  "
        + "\n  ".join(describe(record) for record in misses[:N_MISSES_SHOWN])
    )
    return accuracy, message


def test_every_development_drawing_gets_an_answer(answers):
    failed = [describe(record) for record in answers if record["status"] != 200]
    assert not failed, f"{len(failed)} requests failed: {failed[:N_MISSES_SHOWN]}"


def test_development_drawings_stay_above_the_target(answers):
    accuracy, message = accuracy_report(answers, TARGET_ACCURACY)
    assert accuracy >= TARGET_ACCURACY, message


# Whole numbers: composed from the measuring writers' digits (bench.support.compose)

N_NUMBERS = 96
"""Twelve numbers of each length from 1 to 8 digits; about a third hold a touching pair."""

NUMBER_SEED = 1

TARGET_NUMBERS_APART = 0.93
"""Issue 12's bar for numbers whose digits do not touch (set there for 4 digits)."""

TARGET_LENGTH_APART = 0.99
"""Issue 12's bar for reading the right number of digits when none touch."""


@pytest.fixture(scope="module")
def number_answers(handwriting_path, live_server):
    """(composed number, the server's answer) for a fixed sample of the measuring writers' numbers."""
    _, measuring = split_by_writer(load_handwriting(handwriting_path))
    numbers = compose_numbers(measuring, N_NUMBERS, seed=NUMBER_SEED)
    with PredictClient(live_server) as client:
        return [(number, client.predict_png(number_png(number), NUMBER_PATH)) for number in numbers]


def test_every_composed_number_gets_an_answer(number_answers):
    failed = [(number.text, status) for number, (status, _) in number_answers if status != 200]
    assert not failed


def test_numbers_whose_digits_do_not_touch_are_read_whole(number_answers):
    apart = [(number.text, body["number"]) for number, (_, body) in number_answers if not number.has_touching]
    wrong = [(text, read) for text, read in apart if text != read]
    assert 1 - len(wrong) / len(apart) >= TARGET_NUMBERS_APART, f"{len(wrong)} of {len(apart)} wrong: {wrong}"


def test_numbers_whose_digits_do_not_touch_have_the_right_length(number_answers):
    apart = [(number.text, body["number"]) for number, (_, body) in number_answers if not number.has_touching]
    wrong = [(text, read) for text, read in apart if len(text) != len(read)]
    assert 1 - len(wrong) / len(apart) >= TARGET_LENGTH_APART, f"{len(wrong)} of {len(apart)} wrong: {wrong}"


TOUCHING_FLOOR = 0.55
"""Regression floor for numbers with a touching pair posted as a PNG alone: 61% of this sample
(20 of 33) with the committed model and the pixel segmenter's cheapest path; issue 20's target is 85%."""

TOUCHING_FLOOR_WITH_STROKES = 0.78
"""Regression floor for numbers with a touching pair posted with their strokes, as the page posts
them: 85% of this sample (28 of 33) with model/strokes.py (27 before the absorbed-digit rule,
when the floor was 0.75); issue 20's target is 93% on the page."""


def test_numbers_with_a_touching_pair_stay_above_their_floor(number_answers):
    touching = [(number.text, body["number"]) for number, (_, body) in number_answers if number.has_touching]
    wrong = [(text, read) for text, read in touching if text != read]
    assert 1 - len(wrong) / len(touching) >= TOUCHING_FLOOR, f"{len(wrong)} of {len(touching)} wrong: {wrong}"


@pytest.fixture(scope="module")
def answers_with_strokes(handwriting_path, live_server):
    """(composed number, the server's answer) for the same numbers posted with their strokes, as the page posts them."""
    _, measuring = split_by_writer(load_handwriting(handwriting_path))
    numbers = compose_numbers(measuring, N_NUMBERS, seed=NUMBER_SEED)
    with PredictClient(live_server) as client:
        return [(number, client.request("POST", NUMBER_PATH, page_json(number_png(number), number.strokes),
                                        JSON_HEADERS))
                for number in numbers]


def test_numbers_with_a_touching_pair_sent_with_their_strokes_are_read_whole(answers_with_strokes):
    touching = [(number.text, body.get("number")) for number, (_, body) in answers_with_strokes
                if number.has_touching]
    wrong = [(text, read) for text, read in touching if text != read]
    assert 1 - len(wrong) / len(touching) >= TOUCHING_FLOOR_WITH_STROKES, \
        f"{len(wrong)} of {len(touching)} wrong: {wrong}"


def test_numbers_apart_sent_with_their_strokes_are_read_whole_with_the_right_length(answers_with_strokes):
    apart = [(number.text, body.get("number")) for number, (_, body) in answers_with_strokes
             if not number.has_touching]
    wrong = [(text, read) for text, read in apart if text != read]
    short = [(text, read) for text, read in apart if len(text) != len(read or "")]
    assert 1 - len(wrong) / len(apart) >= TARGET_NUMBERS_APART, f"{len(wrong)} of {len(apart)} wrong: {wrong}"
    assert 1 - len(short) / len(apart) >= TARGET_LENGTH_APART, f"{len(short)} of {len(apart)}: {short}"


# Letters and symbols: the measuring writers' non-digits must be answered "is_digit": false

N_NON_DIGITS = 300

NON_DIGIT_FLOOR = 0.88
"""Regression floor for non-digits answered is_digit false: the committed model rejects 92.0% of
the measuring writers' letters and symbols (92.7% of this sample); issue 19's target is 92%."""

DIGIT_REJECTION_BOUND = 0.005
"""Issue 13's bound on digits answered is_digit false."""


@pytest.fixture(scope="module")
def non_digit_answers(others_path, live_server):
    """The server's /predict answers for a fixed sample of the measuring writers' letters and symbols."""
    _, measuring = split_by_writer(load_handwriting(others_path))
    chosen = np.random.default_rng(SEED).choice(len(measuring), N_NON_DIGITS, replace=False)
    with PredictClient(live_server) as client:
        return [
            (measuring[index]["label"],
             client.predict_png(draw_png(measuring[index]["strokes"], measuring[index]["style"])))
            for index in chosen
        ]


def test_letters_and_symbols_are_mostly_said_not_to_be_digits(non_digit_answers):
    accepted = [label for label, (status, body) in non_digit_answers if status != 200 or body["is_digit"]]
    rejected = 1 - len(accepted) / len(non_digit_answers)
    assert rejected >= NON_DIGIT_FLOOR, f"only {rejected:.1%} rejected; accepted: {''.join(accepted)}"


def test_a_non_digit_answer_is_never_confident(non_digit_answers):
    assert not [body for _, (_, body) in non_digit_answers if not body["is_digit"] and body["confident"]]


def test_development_digits_are_seldom_said_not_to_be_digits(answers):
    rejected = [describe(record) for record in answers if record["is_digit"] is False]
    assert len(rejected) <= DIGIT_REJECTION_BOUND * len(answers), rejected
