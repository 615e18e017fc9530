"""The export of corrections into handwriting files: what is written where, what is skipped, and that the trainer's reader reads it.

Each test runs against SQLite and PostgreSQL (tests/databases.py). Good rows
are sent through the app, as a person's would be; rows the app would never
write are stored directly, as a tampered or damaged database would hold them.
"""

import base64
import gzip
import json
import subprocess
import sys
import uuid

import numpy as np
import pytest
from PIL import Image

from app import create_app
from app.storage import SCHEMA_VERSION as APP_SCHEMA_VERSION
from bench.support.digits import number_png, number_strokes
from bench.support.drawing import encode_image
from model.constants import CANVAS_HEIGHT
from model.training import corrections
from model.training.handwriting import is_measuring_writer, load_handwriting, render_strokes
from tests.databases import execute, insert_row, stored_rows


def data_url(png):
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def page_strokes(text):
    return number_strokes(text)[0]


@pytest.fixture()
def sent(database_url):
    """Send five corrections through the app; return the database URL."""
    client = create_app({"TESTING": True, "DATABASE_URL": database_url}).test_client()
    bodies = [
        {"image": data_url(number_png("7")), "strokes": page_strokes("7"), "answer": "1", "label": "7"},
        {"image": data_url(number_png("71")), "strokes": page_strokes("71"), "answer": "77", "label": "71"},
        {"image": data_url(number_png("0")), "strokes": page_strokes("0"), "answer": "0", "label": None},
        {"image": data_url(number_png("1")), "strokes": page_strokes("4"), "answer": "1", "label": "1"},
        {"image": data_url(number_png("2")), "answer": "2", "label": "2"},
    ]
    for body in bodies:
        response = client.post("/corrections", json={"model": "mlp-test-1", **body})
        assert response.status_code == 201, response.get_json()
    return database_url


def bad_row(good, **changes):
    """A copy of a stored row with a new id and some fields spoilt."""
    return {**good, "id": uuid.uuid4().hex, **changes}


@pytest.fixture()
def exported(sent, tmp_path):
    """Export the sent corrections; return (counts, {kind: path})."""
    return corrections.export(sent, tmp_path / "corrections.jsonl.gz")


def test_a_one_digit_correction_is_a_sample_the_trainers_reader_reads(exported):
    _, paths = exported
    [sample] = load_handwriting(paths["digits"])
    assert sample["label"] == 7
    assert sample["writer"].startswith("correction/") and isinstance(is_measuring_writer(sample["writer"]), bool)
    assert set(sample) >= {"label", "strokes", "writer", "style", "institution", "source"}


def test_the_strokes_keep_their_shape_in_drawing_units_of_a_280_high_canvas(exported):
    _, paths = exported
    [sample] = load_handwriting(paths["digits"])
    written = np.concatenate([np.asarray(stroke) for stroke in sample["strokes"]])
    sent = np.concatenate([np.asarray(stroke, dtype=float) for stroke in page_strokes("7")])
    assert np.allclose(written - written.min(axis=0), sent - sent.min(axis=0), atol=0.051)
    assert written[:, 1].min() >= corrections.BORDER and written[:, 1].max() <= CANVAS_HEIGHT - corrections.BORDER


def test_the_exported_strokes_draw_the_digit_that_was_sent(exported):
    _, paths = exported
    [sample] = load_handwriting(paths["digits"])
    drawn = np.asarray(render_strokes(sample["strokes"]), dtype=np.float32) / 255
    shift = np.asarray(sample["strokes"][0][0]) - np.asarray(page_strokes("7")[0][0])
    original = np.asarray(render_strokes([[(x + shift[0], y + shift[1]) for x, y in stroke]
                                          for stroke in page_strokes("7")]), dtype=np.float32) / 255
    inked, expected = drawn > 0.5, original > 0.5
    assert np.count_nonzero(inked & expected) / np.count_nonzero(inked | expected) > 0.95


def test_a_number_goes_to_the_numbers_file_with_its_digits(exported):
    _, paths = exported
    [sample] = load_handwriting(paths["numbers"])
    assert sample["label"] == "71"


def test_not_a_digit_and_strokes_of_another_drawing_go_to_the_other_file(exported):
    _, paths = exported
    others = {sample["reason"]: sample for sample in load_handwriting(paths["other"])}
    assert set(others) == {"not_a_digit", "strokes_disagree"}
    assert others["not_a_digit"]["label"] == "?"
    assert others["strokes_disagree"]["label"] == "1"
    for sample in others.values():
        assert sample["png"].startswith("data:image/png;base64,") and sample["strokes"]


def test_the_counts_say_what_went_where(exported):
    counts, _ = exported
    assert counts["written"] == {"digits": 1, "numbers": 1, "other": 2}
    assert counts["by label"] == {"7": 1, "numbers": 1, "not a digit": 1, "1": 1}
    assert counts["by model"] == {"mlp-test-1": 4}
    assert counts["skipped"] == {"no strokes (PNG only)": 1}


MALFORMED = {
    "label": ({"label": "7a"}, "malformed label"),
    "answer": ({"answer": ""}, "malformed answer"),
    "model": ({"model": "a model"}, "malformed model"),
    "time": ({"created_at": "yesterday"}, "malformed time"),
    "png": ({"png": b"\x89PNG\r\n\x1a\nbroken"}, "image unreadable"),
    "not_png": ({"png": b"GIF89a"}, "image not a PNG"),
    "size": ({"image_width": 1}, "image size not as recorded"),
    "blank": ({"png": encode_image(Image.new("L", (30, 30), 255)), "image_width": 30, "image_height": 30}, "image blank"),
    "strokes_json": ({"strokes": "[[[1, 2]"}, "strokes not JSON"),
    "strokes_nan": ({"strokes": "[[[NaN, 2]]]"}, "strokes malformed"),
    "strokes_shape": ({"strokes": "[[1, 2]]"}, "strokes malformed"),
    "strokes_many": ({"strokes": json.dumps([[[1, 1]]] * 201)}, "strokes over the limits"),
}
"""Rows the app would never have written, and the reason each is skipped for."""


@pytest.mark.parametrize(("change", "reason"), MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_row_is_skipped_and_counted(sent, tmp_path, change, reason):
    good = stored_rows(sent)[0]
    insert_row(sent, bad_row(good, **change))
    counts, paths = corrections.export(sent, tmp_path / "c.jsonl.gz")
    assert counts["skipped"][reason] == 1
    written = sum(len(load_handwriting(path)) for path in paths.values())
    assert written == sum(counts["written"].values()) == 4


def test_the_export_reads_the_schema_version_that_the_app_writes():
    assert corrections.SCHEMA_VERSION == APP_SCHEMA_VERSION


def test_a_database_of_a_newer_schema_is_refused(sent, tmp_path):
    execute(sent, f"UPDATE schema_version SET version = {corrections.SCHEMA_VERSION + 1}")
    with pytest.raises(SystemExit, match="schema version"):
        corrections.export(sent, tmp_path / "c.jsonl.gz")


def test_the_command_prints_the_counts_by_label_and_model(sent, tmp_path, capsys):
    out = tmp_path / "c.jsonl.gz"
    assert corrections.main(["export", "--database", sent, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "by label: 1 1, 7 1, not a digit 1, numbers 1" in printed
    assert "by model: mlp-test-1 4" in printed
    with gzip.open(out, "rt") as lines:
        assert len(lines.readlines()) == 1


def test_an_output_name_without_the_jsonl_gz_suffix_is_refused(sent, tmp_path):
    with pytest.raises(SystemExit, match=".jsonl.gz"):
        corrections.export(sent, tmp_path / "c.json")


def test_the_export_loads_neither_flask_nor_the_app():
    script = "import sys, model.training.corrections\nprint(' '.join(sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split()
    assert not [name for name in loaded if name == "flask" or name == "app" or name.startswith("app.")]

