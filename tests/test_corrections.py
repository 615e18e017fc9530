"""POST /corrections in process, against SQLite and PostgreSQL: what is stored, the schema, the limits, outages.

Every test that touches a database runs once per backend (tests/databases.py):
a SQLite file, and the PostgreSQL at TEST_DATABASE_URL, which `bash .ci/test`
starts. The bad-input matrix of the endpoint is in tests/test_bad_input.py;
the same rules through the real gunicorn, under load and across a database
outage, are in tests/test_corrections_server.py.
"""

import base64
import contextlib
import io
import json
import sqlite3
from datetime import UTC, datetime, timedelta

import flask
import pytest
from PIL import Image

from app import create_app
from app.config import config_from_env
from app.corrections import RateLimiter
from app.storage import SCHEMA_VERSION, SchemaTooNewError, describe_url, sqlite_url
from bench.support.digits import number_png, number_strokes
from tests.databases import database_outage, execute, query, stored_rows

STORED_COLUMNS = {"id", "created_at", "model", "answer", "label", "png", "strokes", "image_width",
                  "image_height"}
"""Everything a row holds: nothing about the person who sent it."""

BROWSER_HEADERS = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) TestBrowser/1.0",
                   "X-Forwarded-For": "203.0.113.7", "Cookie": "session=abc"}


def data_url(png):
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


@pytest.fixture(scope="module")
def seventy_one():
    """A drawing of 71 as the page sends it: (PNG bytes, its strokes in the PNG's pixels)."""
    strokes, _ = number_strokes("71")
    return number_png("71"), strokes


@pytest.fixture()
def correction(seventy_one):
    """Return a function that builds a correction's JSON body, with fields replaced or removed."""
    png, strokes = seventy_one

    def build(**changes):
        body = {"image": data_url(png), "strokes": strokes, "answer": "77", "model": "mlp-test-1",
                "label": "71"}
        body.update(changes)
        return {name: value for name, value in body.items() if value is not ...}

    return build


def make_app(database_url, **config):
    return create_app({"TESTING": True, "DATABASE_URL": database_url, **config})


@pytest.fixture()
def corrections_client(database_url):
    """A test client of an app storing its corrections in `database_url`."""
    return make_app(database_url).test_client()


def assert_error(response, status, code):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.get_json()["error"]["code"] == code


# What is stored


def test_a_correction_is_stored_whole_and_answered_with_its_id(corrections_client, database_url, correction,
                                                             seventy_one):
    png, strokes = seventy_one
    before = datetime.now(UTC)
    response = corrections_client.post("/corrections", json=correction())
    assert response.status_code == 201
    [row] = stored_rows(database_url)
    assert response.get_json() == {"id": row["id"]}
    assert (row["model"], row["answer"], row["label"]) == ("mlp-test-1", "77", "71")
    assert row["png"] == png
    assert json.loads(row["strokes"]) == strokes
    assert (row["image_width"], row["image_height"]) == Image.open(io.BytesIO(png)).size
    stored_at = datetime.fromisoformat(row["created_at"])
    assert before - timedelta(seconds=1) <= stored_at <= datetime.now(UTC)


def test_a_row_holds_nothing_that_identifies_the_sender(corrections_client, database_url, correction):
    corrections_client.post("/corrections", json=correction(), headers=BROWSER_HEADERS,
                            environ_base={"REMOTE_ADDR": "198.51.100.23"})
    [row] = stored_rows(database_url)
    assert set(row) == STORED_COLUMNS
    text = " ".join(str(value) for name, value in row.items() if name != "png")
    for trace in ("198.51.100.23", "203.0.113.7", "TestBrowser", "session"):
        assert trace not in text


def test_not_a_digit_is_stored_as_a_null_label(corrections_client, database_url, correction):
    assert corrections_client.post("/corrections", json=correction(label=None, answer="?")).status_code == 201
    [row] = stored_rows(database_url)
    assert row["label"] is None and row["answer"] == "?"


def test_strokes_are_optional(corrections_client, database_url, correction):
    assert corrections_client.post("/corrections", json=correction(strokes=...)).status_code == 201
    assert stored_rows(database_url)[0]["strokes"] is None


def test_each_correction_gets_its_own_id(corrections_client, database_url, correction):
    ids = {corrections_client.post("/corrections", json=correction()).get_json()["id"] for _ in range(3)}
    assert len(ids) == 3
    assert {row["id"] for row in stored_rows(database_url)} == ids


@pytest.mark.parametrize("change", [{"label": "7a"}, {"strokes": [[[1, "x"]]]}, {"answer": ""}, {"model": ""}],
                         ids=["label", "strokes", "answer", "model"])
def test_a_refused_correction_stores_nothing(corrections_client, database_url, correction, change):
    assert corrections_client.post("/corrections", json=correction(**change)).status_code in {400, 422}
    assert stored_rows(database_url) == []


# The schema


def test_by_default_a_sqlite_file_in_the_instance_folder_is_created_in_wal_mode(monkeypatch, tmp_path,
                                                                                correction):
    instance = tmp_path / "instance"
    monkeypatch.setattr(flask.Flask, "auto_find_instance_path", lambda self: str(instance))
    client = create_app({"TESTING": True}).test_client()
    database = instance / "corrections.sqlite3"
    assert database.is_file()
    assert client.post("/corrections", json=correction()).status_code == 201
    assert len(stored_rows(sqlite_url(database))) == 1
    with contextlib.closing(sqlite3.connect(database)) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_start_up_creates_the_schema_at_the_current_version(database_url):
    make_app(database_url)
    assert stored_rows(database_url) == []
    assert _schema_version(database_url) == SCHEMA_VERSION


def test_a_second_start_keeps_the_rows_and_the_version(database_url, correction):
    make_app(database_url).test_client().post("/corrections", json=correction())
    make_app(database_url)
    assert len(stored_rows(database_url)) == 1
    assert _schema_version(database_url) == SCHEMA_VERSION


def test_a_schema_newer_than_the_code_stops_start_up_saying_so(database_url):
    make_app(database_url)
    execute(database_url, f"UPDATE schema_version SET version = {SCHEMA_VERSION + 1}")
    with pytest.raises(SchemaTooNewError, match=f"version {SCHEMA_VERSION + 1}, newer than this code's "
                                                f"{SCHEMA_VERSION}"):
        make_app(database_url)


def _schema_version(url):
    return query(url, "SELECT version FROM schema_version")[0][0]


def test_a_database_url_of_another_kind_stops_start_up_naming_the_variable():
    with pytest.raises(ValueError, match="DATABASE_URL"):
        make_app("mysql://user:secret@db/corrections")


def test_messages_never_show_the_database_password():
    assert describe_url("postgres://user:secret@db.example:5432/x") == "postgres://user:***@db.example:5432/x"


# The rate limit


def test_a_client_over_the_limit_gets_429_with_retry_after(database_url, correction):
    client = make_app(database_url, CORRECTIONS_PER_MINUTE=3).test_client()
    statuses = [client.post("/corrections", json=correction()).status_code for _ in range(3)]
    refused = client.post("/corrections", json=correction())
    assert statuses == [201, 201, 201]
    assert_error(refused, 429, "too_many_corrections")
    assert "CORRECTIONS_PER_MINUTE" in refused.get_json()["error"]["message"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert len(stored_rows(database_url)) == 3


def test_another_address_has_its_own_allowance(database_url, correction):
    client = make_app(database_url, CORRECTIONS_PER_MINUTE=1).test_client()
    first = client.post("/corrections", json=correction(), environ_base={"REMOTE_ADDR": "192.0.2.1"})
    second = client.post("/corrections", json=correction(), environ_base={"REMOTE_ADDR": "192.0.2.2"})
    assert (first.status_code, second.status_code) == (201, 201)


def test_locally_a_forged_forwarded_for_does_not_escape_the_limit(database_url, correction):
    client = make_app(database_url, CORRECTIONS_PER_MINUTE=1).test_client()
    client.post("/corrections", json=correction(), headers={"X-Forwarded-For": "192.0.2.1"})
    again = client.post("/corrections", json=correction(), headers={"X-Forwarded-For": "192.0.2.2"})
    assert_error(again, 429, "too_many_corrections")


def test_behind_the_router_the_client_is_the_last_forwarded_address(database_url, correction):
    client = make_app(database_url, CORRECTIONS_PER_MINUTE=1, TRUST_X_FORWARDED_FOR=True).test_client()
    first = client.post("/corrections", json=correction(), headers={"X-Forwarded-For": "10.0.0.1, 192.0.2.1"})
    forged = client.post("/corrections", json=correction(), headers={"X-Forwarded-For": "10.0.0.2, 192.0.2.1"})
    other = client.post("/corrections", json=correction(), headers={"X-Forwarded-For": "10.0.0.1, 192.0.2.9"})
    assert first.status_code == 201
    assert_error(forged, 429, "too_many_corrections")
    assert other.status_code == 201


def test_heroku_dynos_trust_the_routers_forwarded_for_and_others_do_not():
    assert config_from_env({"DYNO": "web.1"})["TRUST_X_FORWARDED_FOR"] is True
    assert config_from_env({})["TRUST_X_FORWARDED_FOR"] is False
    assert config_from_env({"DYNO": "web.1", "TRUST_X_FORWARDED_FOR": "off"})["TRUST_X_FORWARDED_FOR"] is False


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_the_limit_counts_over_a_sliding_minute():
    clock = FakeClock()
    limiter = RateLimiter(2, clock=clock)
    assert [limiter.wait("a"), limiter.wait("a")] == [0, 0]
    clock.now += 30
    assert limiter.wait("a") == 30
    clock.now += 30
    assert limiter.wait("a") == 0


def test_the_limiter_forgets_the_least_recent_clients_past_its_bound():
    clock = FakeClock()
    limiter = RateLimiter(1, max_clients=2, clock=clock)
    limiter.wait("a")
    limiter.wait("b")
    limiter.wait("c")
    assert limiter.wait("b") > 0
    assert limiter.wait("a") == 0, "a was forgotten when c came"


# The database away


def test_corrections_answer_503_while_the_database_is_down_and_work_when_it_is_back(
        corrections_client, database_url, correction):
    assert corrections_client.post("/corrections", json=correction()).status_code == 201
    with database_outage(database_url):
        refused = corrections_client.post("/corrections", json=correction())
        assert_error(refused, 503, "storage_unavailable")
        assert int(refused.headers["Retry-After"]) > 0
    assert corrections_client.post("/corrections", json=correction()).status_code == 201
    assert len(stored_rows(database_url)) == 2


def test_predictions_do_not_need_the_database(corrections_client, database_url):
    with database_outage(database_url):
        for path in ("/predict", "/predict/number"):
            response = corrections_client.post(path, data=number_png("7"), content_type="image/png")
            assert response.status_code == 200


def test_a_database_down_at_start_up_does_not_stop_the_app(database_url, correction):
    if database_url.startswith("sqlite:"):
        pytest.skip("a SQLite file is created at start-up: it cannot be down then")
    with database_outage(database_url):
        client = make_app(database_url).test_client()
        assert client.post("/predict", data=number_png("7"), content_type="image/png").status_code == 200
        assert_error(client.post("/corrections", json=correction()), 503, "storage_unavailable")
    assert client.post("/corrections", json=correction()).status_code == 201
    assert _schema_version(database_url) == SCHEMA_VERSION


# Turned off


def test_with_corrections_off_the_endpoint_is_404_and_no_database_is_opened(monkeypatch, tmp_path, correction):
    instance = tmp_path / "instance"
    monkeypatch.setattr(flask.Flask, "auto_find_instance_path", lambda self: str(instance))
    app = create_app({"TESTING": True, "CORRECTIONS": False})
    client = app.test_client()
    assert_error(client.post("/corrections", json=correction()), 404, "not_found")
    assert not instance.exists()
    assert "/corrections" not in client.get("/openapi.json").get_json()["paths"]


def test_with_corrections_off_the_page_has_no_control():
    page = create_app({"TESTING": True, "CORRECTIONS": False}).test_client().get("/").get_data(as_text=True)
    assert 'id="correction"' not in page


def test_with_corrections_on_the_page_has_the_control_and_says_what_is_kept(client):
    page = client.get("/").get_data(as_text=True)
    assert 'id="correction"' in page and "Not right?" in page
    assert "no name, no address, no IP address" in page


@pytest.mark.parametrize("value", ["maybe", "2"])
def test_a_bad_corrections_switch_stops_start_up_naming_it(value):
    with pytest.raises(ValueError, match="CORRECTIONS"):
        config_from_env({"CORRECTIONS": value})


@pytest.mark.parametrize(("value", "expected"), [("off", False), ("OFF", False), ("0", False), ("on", True)])
def test_the_corrections_switch_reads_on_and_off(value, expected):
    assert config_from_env({"CORRECTIONS": value})["CORRECTIONS"] is expected


def test_the_openapi_document_describes_every_answer_of_corrections(client):
    operation = client.get("/openapi.json").get_json()["paths"]["/corrections"]["post"]
    assert {"201", "400", "413", "415", "422", "429", "503"} <= set(operation["responses"])
    for status, code in [("422", "invalid_label"), ("429", "too_many_corrections"),
                         ("503", "storage_unavailable"), ("400", "invalid_strokes")]:
        assert code in operation["responses"][status]["description"]
