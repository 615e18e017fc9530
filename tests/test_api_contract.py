"""The OpenAPI document, the README and the code say the same about the API."""

import pytest

from app.api import PREVIEW_VALUES
from bench.support.server import PROJECT_ROOT

README = PROJECT_ROOT / "README.md"


@pytest.fixture(scope="module")
def document(app):
    return app.test_client().get("/openapi.json").get_json()


@pytest.mark.parametrize("path", ["/predict", "/predict/number"])
def test_the_preview_values_the_document_lists_are_those_the_api_accepts(document, path):
    (parameter,) = [p for p in document["paths"][path]["post"]["parameters"] if p["name"] == "preview"]
    assert sorted(parameter["schema"]["enum"]) == sorted(PREVIEW_VALUES)


def test_the_document_says_the_api_reads_numbers_as_well_as_digits(document):
    description = document["info"]["description"]
    assert "/predict/number" in description
    assert "one digit" not in description.split(".")[0]


def test_the_readme_says_only_gunicorn_answers_408():
    errors = next(part for part in README.read_text().split("\n\n") if part.startswith("Errors are JSON"))
    about_408 = errors[errors.index("408") : errors.index("413")]
    assert "gunicorn" in about_408
    assert "development server" in about_408
