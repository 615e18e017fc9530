"""The pages: the drawing page and /model, with its report pictures, in the test client."""

import json
import math
import re
import shutil
import subprocess
import sys

import pytest

from app import create_app
from app.headers import CONTENT_SECURITY_POLICY
from app.pages import IMAGE_MAX_AGE_S, MODEL_PAGE_KEY, STROKE_WIDTH
from bench.support.server import PROJECT_ROOT
from model.report_files import DEFAULT_REPORT_DIR, REPORT_JSON, REPORT_PICTURES

REPORT_PATH = DEFAULT_REPORT_DIR / REPORT_JSON
HTML = {"Accept": "text/html"}


@pytest.fixture(scope="module")
def report():
    """The committed model's evaluation report."""
    if not REPORT_PATH.is_file():
        pytest.skip(f"no evaluation report at {REPORT_PATH}: run python -m model.evaluate")
    return json.loads(REPORT_PATH.read_text())


def app_with_report(report_dir):
    return create_app({"TESTING": True, "REPORT_DIR": str(report_dir)})


def copy_report(report_dir, pictures=True, **changes):
    """Copy the committed report into report_dir, with top-level keys replaced by `changes`."""
    report = json.loads(REPORT_PATH.read_text())
    report.update(changes)
    (report_dir / REPORT_JSON).write_text(json.dumps(report))
    if pictures:
        for filename in REPORT_PICTURES.values():
            shutil.copy(DEFAULT_REPORT_DIR / filename, report_dir / filename)
    return report_dir


def page_text(response):
    """The page's text with tags removed and white space collapsed, for phrase checks."""
    html = response.get_data(as_text=True)
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_the_model_page_shows_the_numbers_of_the_report_and_the_model(app, client, report):
    response = client.get("/model")

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    text = page_text(response)
    model = app.extensions["digit_model"]
    assert f"Test accuracy {report['accuracy']:.2%}" in text
    for entry in report["per_digit"]:
        assert f"{entry['accuracy']:.2%}" in text
    assert " → ".join(str(size) for size in model.layer_sizes) in text
    assert model.version in text
    assert model.metadata["command"] in text
    assert f'datetime="{model.metadata["trained_at"]}"' in response.get_data(as_text=True)
    assert "No evaluation report" not in text
    mismatch = report["model"]["version"] != model.version
    assert ("The report is for another model" in text) == mismatch


def test_the_misclassified_table_rounds_probabilities_down_as_the_picture_does(client, report):
    html = client.get("/model").get_data(as_text=True)
    first = report["misclassified_shown"][0]
    shown = f"{math.floor(first['confidence'] * 100)}%"

    row = f"<tr><td>{first['index']}</td><td>{first['true']}</td><td>{first['predicted']}</td><td>{shown}</td></tr>"
    assert row in html


DRAWING_MODULES = ("model.canvas", "model.charts", "model.evaluate", "PIL.ImageDraw")


def test_the_web_app_never_imports_the_drawing_code():
    code = (
        "import sys\n"
        "from app import create_app\n"
        "create_app({'TESTING': True}).test_client().get('/model')\n"
        f"print(sorted(name for name in {DRAWING_MODULES!r} if name in sys.modules))"
    )
    completed = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True,
                               timeout=60, check=True)
    assert completed.stdout.strip() == "[]"


def test_the_model_page_has_no_inline_script_or_style_and_a_strict_policy(client, report):
    response = client.get("/model")
    html = response.get_data(as_text=True)

    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "<script" not in html
    assert " style=" not in html
    assert "<style" not in html
    assert "http://" not in html and "https://" not in html, "no CDN"


def test_the_model_page_links_its_pictures_by_digest(app, client, report):
    html = client.get("/model").get_data(as_text=True)
    images = app.extensions[MODEL_PAGE_KEY].images

    assert set(images) == set(REPORT_PICTURES)
    for image in images.values():
        assert f"/model/report/{image.name}.png?v={image.digest}" in html


def test_the_pages_link_to_each_other(client):
    index = client.get("/").get_data(as_text=True)
    model = client.get("/model").get_data(as_text=True)

    assert 'href="/model"' in index
    assert 'href="/"' in model


def test_the_drawing_page_gives_the_stroke_width_to_its_script(client):
    html = client.get("/").get_data(as_text=True)

    assert f'data-stroke-width="{STROKE_WIDTH}"' in html


@pytest.mark.parametrize("name", sorted(REPORT_PICTURES))
def test_a_report_picture_is_served_and_cached_by_digest(app, client, name):
    image = app.extensions[MODEL_PAGE_KEY].images[name]

    response = client.get(f"/model/report/{name}.png?v={image.digest}")
    data = response.get_data()
    response.close()

    assert response.status_code == 200
    assert response.mimetype == "image/png"
    assert data == (DEFAULT_REPORT_DIR / REPORT_PICTURES[name]).read_bytes()
    assert response.cache_control.max_age == IMAGE_MAX_AGE_S
    assert response.cache_control.immutable
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_a_report_picture_without_its_digest_is_revalidated(client, report):
    response = client.get("/model/report/learning_curves.png")
    response.close()

    assert response.status_code == 200
    assert response.cache_control.no_cache
    assert not response.cache_control.immutable


@pytest.mark.parametrize(
    "path",
    [
        "/model/report/nope.png",
        "/model/report/report.png",
        "/model/report/LEARNING_CURVES.png",
        "/model/report/learning_curves.png.png",
        "/model/report/learning_curves.jpg",
        "/model/report/report.json",
        "/model/report/..%2Fweights.png",
        "/model/report/%2E%2E%2F%2E%2E%2Fmodel%2Fweights.png",
        "/model/report/",
    ],
)
def test_only_the_known_report_pictures_are_served(client, path):
    response = client.get(path)

    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_without_a_report_the_app_starts_and_the_page_says_so(tmp_path):
    app = app_with_report(tmp_path)
    client = app.test_client()
    sizes = " → ".join(str(size) for size in app.extensions["digit_model"].layer_sizes)

    response = client.get("/model", headers=HTML)

    assert response.status_code == 200
    text = page_text(response)
    assert "No evaluation report" in text
    assert "was not found" in text
    assert "python -m model.evaluate" in text
    assert sizes in text, "the model file's own record is still shown"
    assert "<img" not in response.get_data(as_text=True)
    assert client.get("/model/report/learning_curves.png").status_code == 404
    assert client.get("/").status_code == 200


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "is not valid JSON"),
        ('["a list"]', "is not a report written by python -m model.evaluate"),
        ('{"format": "something else"}', "is not a report written by python -m model.evaluate"),
        ('{"format": "digit-recogniser evaluation report"}', "lacks what the page needs"),
    ],
    ids=["not-json", "not-an-object", "wrong-format", "missing-keys"],
)
def test_an_unusable_report_is_explained_on_the_page(tmp_path, content, problem):
    (tmp_path / REPORT_JSON).write_text(content)
    client = app_with_report(tmp_path).test_client()

    response = client.get("/model")

    assert response.status_code == 200
    assert "No evaluation report" in page_text(response)
    assert problem in page_text(response)


def test_a_report_for_another_model_is_flagged(tmp_path, report):
    model = dict(report["model"], version="mlp-784-10-00000000")
    client = app_with_report(copy_report(tmp_path, model=model)).test_client()

    text = page_text(client.get("/model"))

    assert "The report is for another model" in text
    assert "mlp-784-10-00000000" in text
    assert f"{report['accuracy']:.2%}" in text


def test_a_missing_picture_is_explained_not_linked(tmp_path, report):
    copy_report(tmp_path)
    (tmp_path / REPORT_PICTURES["misclassified"]).unlink()
    client = app_with_report(tmp_path).test_client()

    html = client.get("/model").get_data(as_text=True)

    assert "misclassified.png is missing" in html
    assert "/model/report/misclassified.png" not in html
    assert "/model/report/learning_curves.png" in html
    assert client.get("/model/report/misclassified.png").status_code == 404


def test_the_report_is_read_once_at_start_up(tmp_path, report):
    copy_report(tmp_path, accuracy=0.5)
    app = app_with_report(tmp_path)
    client = app.test_client()
    described = app.extensions[MODEL_PAGE_KEY]
    (tmp_path / REPORT_JSON).unlink()

    response = client.get("/model")

    assert "50.00%" in page_text(response)
    assert app.extensions[MODEL_PAGE_KEY] is described
