"""The model page in a real browser: its pictures, its numbers, non-digit rejection, the links (its layout: test_layout.py)."""

import json

import pytest

from bench.support.page import load_every_image
from model.constants import DEFAULT_MODEL_PATH
from model.evaluation.evaluate import DEFAULT_REPORT_DIR, REPORT_JSON
from model.network import Network

REPORT_PATH = DEFAULT_REPORT_DIR / REPORT_JSON


@pytest.fixture(scope="module")
def report():
    """The committed model's evaluation report, as python -m model.evaluation.evaluate wrote it."""
    if not REPORT_PATH.is_file():
        pytest.skip(f"no evaluation report at {REPORT_PATH}: run python -m model.evaluation.evaluate")
    return json.loads(REPORT_PATH.read_text())


@pytest.fixture(scope="module")
def network():
    return Network.load(DEFAULT_MODEL_PATH)


@pytest.fixture()
def model_page(new_page):
    return new_page("/model")


def text(page, selector):
    return page.locator(selector).text_content().strip()


def test_every_picture_of_the_report_loads_without_errors(model_page):
    images = load_every_image(model_page)

    assert len(images) == 3, "learning curves, first-layer weights, misclassified digits"
    assert [src for src, width in images if width == 0] == []
    matrix_png = model_page.get_by_role("link", name="confusion matrix as a picture")
    response = model_page.request.get(matrix_png.evaluate("link => link.href"))
    assert response.status == 200
    assert response.headers["content-type"] == "image/png"
    assert [(url, status) for url, status in model_page.log.responses if status >= 400] == []
    assert model_page.log.console_errors == [], "a CSP violation, or a failed load"
    assert model_page.log.page_errors == []


def test_the_numbers_shown_are_those_of_the_report_and_the_model_file(model_page, report, network):
    metadata = network.metadata
    parameters = sum(W.size + b.size for W, b in zip(network.weights, network.biases))

    assert text(model_page, "#test-accuracy") == f"{report['accuracy']:.2%}"
    assert text(model_page, "#architecture") == " → ".join(map(str, network.layer_sizes))
    assert text(model_page, "#parameter-count") == f"{parameters:,}"
    assert text(model_page, "#model-version") == network.version
    assert text(model_page, "#training-command") == metadata["command"]
    assert model_page.locator("#trained-at").get_attribute("datetime") == metadata["trained_at"]
    assert text(model_page, "#recorded-test-accuracy") == f"{metadata['test_accuracy']:.2%}"
    assert text(model_page, "#val-accuracy") == f"{metadata['val_accuracy']:.2%}"

    shown = model_page.locator("#per-digit .per-digit-accuracy").all_text_contents()
    assert shown == [f"{entry['accuracy']:.2%}" for entry in report["per_digit"]]

    cells = model_page.locator("#confusion-matrix tbody tr").evaluate_all(
        "rows => rows.map(row => [...row.querySelectorAll('td')].map(cell => cell.textContent))"
    )
    assert cells == [[str(count) for count in row] for row in report["confusion"]["counts"]]
    assert model_page.locator("#misclassified-table tbody tr").count() == len(report["misclassified_shown"])
    assert model_page.locator("#history-table tbody tr").count() == len(metadata["history"])
    assert model_page.locator("#report-missing").count() == 0
    mismatch = report["model"]["version"] != network.version
    assert model_page.locator("#report-mismatch").count() == mismatch, "the report is for another model"


def test_the_rejection_section_shows_what_the_not_digit_head_measured(model_page, network):
    head = network.describe()["not_digit"]
    measured = head["measuring_writers"]

    assert model_page.locator("#rejection").is_visible()
    assert text(model_page, "#others-rejected") == f"{measured['others_rejected']:.2%}"
    assert text(model_page, "#digits-rejected") == f"{measured['digits_rejected']:.2%}"
    assert text(model_page, "#mnist-test-rejected") == f"{measured['mnist_test_rejected']:.2%}"
    assert text(model_page, "#rejection-command") == head["command"]
    assert text(model_page, "#rejection-threshold").startswith(f"{head['threshold']:.3f}")
    per_digit = model_page.locator("#rejected-per-digit tbody td").all_text_contents()
    assert per_digit == [f"{measured['digits_rejected_per_digit'][str(digit)]:.2%}" for digit in range(10)]
    characters = model_page.locator("#most-accepted tbody th").all_text_contents()
    accepted = measured["others_most_accepted"]
    assert sorted(characters) == sorted(accepted)
    shares = [accepted[character]["rejected"] for character in characters]
    assert shares == sorted(shares), "the most often accepted first"
    kinds = model_page.locator("#generated-rejected tbody th").all_text_contents()
    assert kinds == [kind.replace("_", " ") for kind in sorted(measured["generated_rejected"])]


def test_the_network_is_described_in_the_models_own_words(model_page, network):
    assert text(model_page, "#network-summary") == network.describe()["summary"]


def test_the_heat_map_shades_right_answers_and_mistakes_differently(model_page):
    colours = model_page.locator("#confusion-matrix tbody tr:nth-child(1) td").evaluate_all(
        "cells => cells.map(cell => getComputedStyle(cell).backgroundColor)"
    )
    body = model_page.locator("#accuracy").evaluate("card => getComputedStyle(card).backgroundColor")
    right, wrong = colours[0], colours[1:]
    assert right != body
    assert any(colour not in (body, right) for colour in wrong)


def test_the_pages_link_to_each_other(page):
    page.get_by_role("link", name="About the model").click()
    page.wait_for_url("**/model")
    assert page.get_by_role("heading", level=1).text_content() == "The model"

    page.get_by_role("link", name="Back to drawing").click()
    page.wait_for_url(lambda url: url.endswith("/"))
    assert page.locator("canvas").count() == 1


def test_the_reliability_table_shows_confidence_against_accuracy(model_page, network):
    measured = network.describe()["not_digit"]["measuring_writers"]
    filled = [entry for entry in measured["reliability"] if entry["answers"]]
    rows = model_page.locator("#reliability tbody tr")
    assert rows.count() == len(filled)
    last = rows.nth(rows.count() - 1).locator("td").all_text_contents()
    assert last[0] == f"{filled[-1]['answers']:,}" and last[2].endswith(f"{filled[-1]['right']:.2%}")
    assert text(model_page, "#confident-right") == f"{measured['digits_confident_right']:.1%}"
