"""The pages: the drawing page and /model, with its report pictures, in the test client."""

import json
import math
import re
import shutil
import subprocess
import sys
from html import unescape as html_unescape

import numpy as np
import pytest

import model
from app import create_app
from app.headers import CONTENT_SECURITY_POLICY
from app.pages import IMAGE_MAX_AGE_S, MODEL_PAGE_KEY, STROKE_WIDTH
from app.report import describe_rejection
from bench.support.server import PROJECT_ROOT
from model.constants import N_CLASSES, N_PIXELS
from model.formatting import percent
from model.network import Network
from model.report_files import DEFAULT_REPORT_DIR, REPORT_JSON, REPORT_PICTURES

REPORT_PATH = DEFAULT_REPORT_DIR / REPORT_JSON
HTML = {"Accept": "text/html"}


@pytest.fixture(scope="module")
def report():
    """The committed model's evaluation report."""
    if not REPORT_PATH.is_file():
        pytest.skip(f"no evaluation report at {REPORT_PATH}: run python -m model.evaluation.evaluate")
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


DRAWING_MODULES = (
    "model.evaluation.charts", "model.evaluation.grids", "model.evaluation.evaluate", "matplotlib", "PIL.ImageDraw",
)


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
    assert "python -m model.evaluation.evaluate" in text
    assert sizes in text, "the model file's own record is still shown"
    assert "<img" not in response.get_data(as_text=True)
    assert client.get("/model/report/learning_curves.png").status_code == 404
    assert client.get("/").status_code == 200


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "is not valid JSON"),
        ('["a list"]', "is not a report written by python -m model.evaluation.evaluate"),
        ('{"format": "something else"}', "is not a report written by python -m model.evaluation.evaluate"),
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


@pytest.fixture(scope="module")
def head():
    """What the committed model's not-a-digit head says about itself, as describe() gives it."""
    described = model.load().describe()["not_digit"]
    if described is None:
        pytest.skip("the committed model has no not-a-digit head")
    return described


def section(response, section_id):
    """The HTML of one <section> of a page, by its id."""
    html = response.get_data(as_text=True)
    start = html.index(f'<section id="{section_id}"')
    return html[start : html.index("</section>", start)]


def table_rows(html, table_id):
    """The rows of a table as lists of cell texts, header cells included."""
    start = html.index(f'id="{table_id}"')
    body = html[html.index("<tbody>", start) : html.index("</tbody>", start)]
    return [
        [" ".join(re.sub(r"<[^>]+>", " ", cell).split()) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row)]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, flags=re.S)
    ]


def test_the_model_page_shows_how_often_non_digits_are_rejected(client, head):
    measured = head["measuring_writers"]
    html = section(client.get("/model"), "rejection")
    text = " ".join(re.sub(r"<[^>]+>", " ", html).split())

    assert f"{measured['others_rejected']:.2%} of {measured['others_counted']:,} letters and symbols" in text
    assert f"{measured['digits_rejected']:.2%} of {measured['digits_counted']:,} digits" in text
    assert f"On the MNIST test set, {measured['mnist_test_rejected']:.2%} of the digits are rejected" in text
    assert f"{head['threshold']:.3f}" in text
    assert head["command"] in text


def test_the_model_page_lists_the_share_of_each_digit_wrongly_rejected(client, head):
    per_digit = head["measuring_writers"]["digits_rejected_per_digit"]

    rows = table_rows(section(client.get("/model"), "rejection"), "rejected-per-digit")

    assert rows == [[str(digit), f"{per_digit[str(digit)]:.2%}"] for digit in range(N_CLASSES)]


def test_the_model_page_lists_the_characters_most_often_taken_for_digits_most_accepted_first(client, head):
    accepted = head["measuring_writers"]["others_most_accepted"]

    rows = table_rows(section(client.get("/model"), "rejection"), "most-accepted")

    assert sorted(html_unescape(row[0]) for row in rows) == sorted(accepted)
    shares = [accepted[html_unescape(row[0])]["rejected"] for row in rows]
    assert shares == sorted(shares)
    for character, samples, rejected in rows:
        entry = accepted[html_unescape(character)]
        assert (samples, rejected) == (f"{entry['n']:,}", f"{entry['rejected']:.1%}")


def test_the_model_page_shows_the_generated_kinds_and_whether_they_were_trained_on(client, head):
    generated = head["measuring_writers"]["generated_rejected"]

    rows = table_rows(section(client.get("/model"), "rejection"), "generated-rejected")

    assert rows == [
        [kind.replace("_", " "), f"{share:.2%}", "yes" if kind in head["generated_kinds"] else "no"]
        for kind, share in sorted(generated.items())
    ]


def test_the_model_page_shows_the_rejection_the_evaluation_measured(client, report):
    rejected = report["not_digit"]["mnist_test"]["rejected"]

    text = page_text(client.get("/model"))

    assert f"({rejected:.2%} by the evaluation report)" in text


def test_a_report_written_before_the_head_is_still_shown(tmp_path, report, head):
    copy_report(tmp_path)
    old = json.loads((tmp_path / REPORT_JSON).read_text())
    del old["not_digit"]
    (tmp_path / REPORT_JSON).write_text(json.dumps(old))

    text = page_text(app_with_report(tmp_path).test_client().get("/model"))

    assert "No evaluation report" not in text
    assert f"Test accuracy {report['accuracy']:.2%}" in text
    assert f"{head['measuring_writers']['others_rejected']:.2%} of" in text
    assert "by the evaluation report" not in text


@pytest.fixture(scope="module")
def headless_model_path(tmp_path_factory):
    """A model file of a small untrained 784-16-10 network without a not-a-digit head."""
    path = tmp_path_factory.mktemp("headless") / "weights.npz"
    network = Network.initialise((N_PIXELS, 16, N_CLASSES), np.random.default_rng(0))
    network.metadata = {"command": "python -m model.training.train --preset tiny"}
    network.save(path)
    return path


def test_a_model_without_a_head_is_said_to_have_none(headless_model_path, tmp_path):
    client = create_app({"TESTING": True, "MODEL_PATH": str(headless_model_path),
                         "REPORT_DIR": str(tmp_path)}).test_client()

    response = client.get("/model")

    assert response.status_code == 200
    assert 'id="no-rejection"' in section(response, "rejection")
    assert "This model has no not-a-digit head" in page_text(response)
    assert 'id="most-accepted"' not in response.get_data(as_text=True)


def test_the_page_describes_the_network_in_the_models_own_words(headless_model_path, tmp_path):
    served = model.load(headless_model_path)
    client = create_app({"TESTING": True, "MODEL_PATH": str(headless_model_path),
                         "REPORT_DIR": str(tmp_path)}).test_client()

    text = page_text(client.get("/model"))

    assert served.describe()["summary"] in text
    assert "one hidden layer of 16 logistic units" in text


def test_the_reliability_rows_say_how_often_each_confidence_was_right():
    """/model shows a model's reliability record (confidence against accuracy) as table rows, empty bins left out."""
    head = {"measuring_writers": {"reliability": [
        {"low": 0.5, "high": 0.9, "answers": 40, "confidence": 0.8, "right": 0.75},
        {"low": 0.9, "high": 0.99, "answers": 0, "confidence": None, "right": None},
        {"low": 0.99, "high": 1.0, "answers": 1200, "confidence": 0.998, "right": 0.9975},
    ]}}
    rows = describe_rejection(head)["reliability"]
    assert [row["answers"] for row in rows] == ["40", "1,200"]
    assert rows[0]["bin"] == "0.5–0.9" and rows[1]["right"] == percent(0.9975)
    assert rows[1]["bar"] == 0.9975
