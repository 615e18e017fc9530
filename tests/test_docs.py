"""What the README, docs/ and app.json say stays true: the example drawing, the links, the model's size."""

import base64
import io
import json
import re

import pytest

import model
from bench.support.server import PROJECT_ROOT
from model.constants import DEFAULT_MODEL_PATH

README = PROJECT_ROOT / "README.md"
EXAMPLE_DRAWING = PROJECT_ROOT / "docs" / "digit.png"
EXAMPLE_DIGIT = 7

EXAMPLE_MAX_BYTES = 1_000
"""The example drawing is committed: it stays a few hundred bytes."""

BYTES_PER_MIB = 1024 * 1024

LOCAL_LINK = re.compile(r"\]\((?!https?:)([^)#]+)(?:#[^)]*)?\)")
"""A Markdown link to a file of the repository, e.g. [Accuracy](docs/accuracy.md)."""


@pytest.fixture(scope="module")
def example_png():
    return EXAMPLE_DRAWING.read_bytes()


def readings(response):
    """The digits an answer of either endpoint read."""
    body = response.get_json()
    return body["digits"] if "digits" in body else [body]


def test_the_example_drawing_is_small(example_png):
    assert len(example_png) <= EXAMPLE_MAX_BYTES


@pytest.mark.parametrize("endpoint", ["/predict", "/predict/number"])
@pytest.mark.parametrize("form", ["multipart", "raw", "json"])
def test_the_readmes_example_requests_read_the_example_drawing(client, example_png, endpoint, form):
    """The README's three curl examples, sent by the test client."""
    if form == "multipart":
        response = client.post(endpoint, data={"image": (io.BytesIO(example_png), "digit.png")},
                               content_type="multipart/form-data")
    elif form == "raw":
        response = client.post(endpoint, data=example_png, content_type="image/png")
    else:
        encoded = base64.b64encode(example_png).decode("ascii")
        response = client.post(endpoint, json={"image": f"data:image/png;base64,{encoded}"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert [(reading["digit"], reading["confident"]) for reading in readings(response)] == [(EXAMPLE_DIGIT, True)]


def test_the_readme_uses_the_committed_example_drawing():
    text = README.read_text()
    assert "@docs/digit.png" in text and "base64 -w0 docs/digit.png" in text
    assert "@digit.png" not in text


@pytest.mark.parametrize("page", [README, *sorted((PROJECT_ROOT / "docs").glob("*.md"))],
                         ids=lambda path: path.name)
def test_every_link_to_a_repository_file_leads_to_one(page):
    for target in LOCAL_LINK.findall(page.read_text()):
        assert (page.parent / target).exists(), f"{page.name} links to {target}, which does not exist"


EXAMPLE_ANSWER = re.compile(r"^\{\"digit\": .*\}$", re.MULTILINE)
"""The README's example answer of /predict: one line of JSON."""


def test_the_readmes_example_answer_is_the_committed_models(client, example_png):
    (example,) = EXAMPLE_ANSWER.findall(README.read_text())
    example = json.loads(example)
    answer = client.post("/predict", data=example_png, content_type="image/png").get_json()
    assert example["model"] == model.load().version
    assert (example["digit"], example["confident"], example["is_digit"]) == (
        answer["digit"], answer["confident"], answer["is_digit"])


def test_the_accuracy_page_names_the_committed_model():
    assert f"`{model.load().version}`" in (PROJECT_ROOT / "docs" / "accuracy.md").read_text()


def test_app_json_states_the_model_files_size():
    description = json.loads((PROJECT_ROOT / "app.json").read_text())["env"]["WEB_CONCURRENCY"]["description"]
    stated = re.search(r"([\d.]+) MiB", description)
    assert stated is not None, description
    assert float(stated[1]) == round(DEFAULT_MODEL_PATH.stat().st_size / BYTES_PER_MIB, 1)
