"""POST /corrections through the real gunicorn, against SQLite and PostgreSQL: the rules, load, and a database outage.

Each test starts the Procfile's gunicorn (tests/conftest.py's start_server)
with DATABASE_URL set to the test's database (tests/databases.py). Under
load, 32 clients post corrections while 8 others ask for predictions, each
on its own keep-alive connection: every 201 is a row, and nothing else is.
With the database stopped in the middle of the load, corrections answer 503,
predictions go on answering 200, and once it is back corrections are stored
again by the same server processes.
"""

import base64
import http.client
import json
import threading
import time
import urllib.parse
from collections import Counter

import pytest

from bench.support.digits import number_png, number_strokes
from bench.support.server import ServerStartError
from tests.databases import database_outage, execute, stored_rows

CORRECTION_CLIENTS = 32
PREDICTION_CLIENTS = 8
CORRECTIONS_EACH = 4
PREDICTIONS_EACH = 6

UNLIMITED = "1000000"
"""CORRECTIONS_PER_MINUTE for the load tests: every client here is 127.0.0.1."""

HTTP_TIMEOUT_S = 30
"""Correctness bound on one request: never a hang."""

PHASE_TIMEOUT_S = 60
"""Longest wait for the load to reach a phase (so many answers of a kind) before the test fails."""

ANSWERS_PER_PHASE = 40
"""Answers of the awaited kind that mark a phase of the outage test as reached."""


def healthy(server):
    try:
        return server.wait_until_healthy()
    except ServerStartError as error:
        pytest.fail(str(error))


@pytest.fixture(scope="module")
def bodies():
    """(a correction's JSON bytes, a PNG to predict)."""
    png = number_png("71")
    correction = {"image": "data:image/png;base64," + base64.b64encode(png).decode(),
                  "strokes": number_strokes("71")[0],
                  "answer": "77", "model": "mlp-test-1", "label": "71"}
    return json.dumps(correction).encode(), png


class Client:
    """One keep-alive HTTP connection to the server."""

    def __init__(self, base_url):
        address = urllib.parse.urlsplit(base_url)
        self.connection = http.client.HTTPConnection(address.hostname, address.port, timeout=HTTP_TIMEOUT_S)

    def post(self, path, body, content_type, headers=None):
        self.connection.request("POST", path, body, {"Content-Type": content_type, **(headers or {})})
        response = self.connection.getresponse()
        return response.status, json.loads(response.read() or b"null")

    def correct(self, body, headers=None):
        return self.post("/corrections", body, "application/json", headers)

    def predict(self, png):
        return self.post("/predict/number", png, "image/png")

    def get(self, path):
        self.connection.request("GET", path)
        response = self.connection.getresponse()
        return response.status, response.read().decode()

    def close(self):
        self.connection.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def test_a_correction_through_gunicorn_is_stored(start_server, database_url, bodies):
    server = healthy(start_server({"DATABASE_URL": database_url}))
    with Client(server.base_url) as client:
        status, answer = client.correct(bodies[0])
    assert status == 201
    assert [row["id"] for row in stored_rows(database_url)] == [answer["id"]]


def test_every_refusal_reaches_the_client_through_gunicorn_and_stores_nothing(start_server, database_url, bodies):
    server = healthy(start_server({"DATABASE_URL": database_url, "CORRECTIONS_PER_MINUTE": UNLIMITED,
                                   "MAX_UPLOAD_BYTES": "100000"}))
    good = json.loads(bodies[0])
    cases = {
        "invalid_label": json.dumps({**good, "label": "seven"}).encode(),
        "invalid_strokes": json.dumps({**good, "strokes": [[["x", 1]]]}).encode(),
        "too_many_strokes": json.dumps({**good, "strokes": [[[1, 1]]] * 201}).encode(),
        "invalid_image": json.dumps({**good, "image": base64.b64encode(b"GIF89a").decode()}).encode(),
        "invalid_json": b"{",
        "payload_too_large": json.dumps({**good, "image": "A" * 100_000}).encode(),
    }
    with Client(server.base_url) as client:
        answers = {}
        for code, body in cases.items():
            status, error = client.correct(body)
            answers[code] = (status, error["error"]["code"])
            if status == 413:
                client.close()  # gunicorn closes a connection whose body it did not read
    assert answers == {"invalid_label": (422, "invalid_label"), "invalid_strokes": (400, "invalid_strokes"),
                       "too_many_strokes": (422, "too_many_strokes"), "invalid_image": (400, "invalid_image"),
                       "invalid_json": (400, "invalid_json"), "payload_too_large": (413, "payload_too_large")}
    assert stored_rows(database_url) == []


def test_behind_the_router_the_limit_counts_the_last_forwarded_address(start_server, database_url, bodies):
    server = healthy(start_server({"DATABASE_URL": database_url, "DYNO": "web.1", "WEB_CONCURRENCY": "1",
                                   "CORRECTIONS_PER_MINUTE": "2"}))
    with Client(server.base_url) as client:
        statuses = [client.correct(bodies[0], {"X-Forwarded-For": f"10.0.0.{i}, 192.0.2.1"})[0] for i in range(3)]
        other, _ = client.correct(bodies[0], {"X-Forwarded-For": "192.0.2.1, 192.0.2.2"})
    assert statuses == [201, 201, 429]
    assert other == 201
    assert len(stored_rows(database_url)) == 3


def test_off_heroku_the_socket_address_is_the_client(start_server, database_url, bodies):
    server = healthy(start_server({"DATABASE_URL": database_url, "WEB_CONCURRENCY": "1",
                                   "CORRECTIONS_PER_MINUTE": "1"}))
    with Client(server.base_url) as client:
        first = client.correct(bodies[0], {"X-Forwarded-For": "192.0.2.1"})
        second, error = client.correct(bodies[0], {"X-Forwarded-For": "192.0.2.2"})
    assert (first[0], second) == (201, 429)
    assert error["error"]["code"] == "too_many_corrections"


def test_with_corrections_off_gunicorn_answers_404_and_the_page_has_no_control(start_server, bodies):
    server = healthy(start_server({"CORRECTIONS": "off"}))
    with Client(server.base_url) as client:
        status, error = client.correct(bodies[0])
        page_status, page = client.get("/")
    assert (status, error["error"]["code"]) == (404, "not_found")
    assert page_status == 200 and 'id="correction"' not in page


def test_a_schema_newer_than_the_code_stops_gunicorn_saying_so(start_server, database_url, bodies):
    healthy(start_server({"DATABASE_URL": database_url})).stop()
    execute(database_url, "UPDATE schema_version SET version = version + 1")
    server = start_server({"DATABASE_URL": database_url})
    with pytest.raises(ServerStartError, match="newer than this code's"):
        server.wait_until_healthy()


class Load:
    """Clients in threads, each posting in a loop until stopped or out of requests; answers counted by kind."""

    def __init__(self, base_url, bodies, corrections_each=None, predictions_each=None):
        self.base_url, self.bodies = base_url, bodies
        self.counts = Counter()
        self.problems = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = (
            [threading.Thread(target=self.run, args=("correction", corrections_each)) for _ in range(CORRECTION_CLIENTS)]
            + [threading.Thread(target=self.run, args=("prediction", predictions_each)) for _ in range(PREDICTION_CLIENTS)]
        )

    def start(self):
        for thread in self.threads:
            thread.start()
        return self

    def run(self, kind, count):
        client = Client(self.base_url)
        try:
            sent = 0
            while not self.stopping.is_set() and (count is None or sent < count):
                if kind == "correction":
                    status, _ = client.correct(self.bodies[0])
                else:
                    status, _ = client.predict(self.bodies[1])
                sent += 1
                with self.lock:
                    self.counts[kind, status] += 1
        except Exception as error:  # noqa: BLE001 - a broken connection is a finding, reported by the test
            with self.lock:
                self.problems.append(f"{kind}: {error!r}")
        finally:
            client.close()

    def count(self, kind, status):
        with self.lock:
            return self.counts[kind, status]

    def wait_for(self, kind, status, at_least, what):
        deadline = time.monotonic() + PHASE_TIMEOUT_S
        while self.count(kind, status) < at_least:
            if time.monotonic() > deadline or self.problems:
                self.stop()
                pytest.fail(f"waiting for {what}: {dict(self.counts)}, problems {self.problems}")
            time.sleep(0.05)

    def stop(self):
        self.stopping.set()
        self.join()

    def join(self):
        """Wait for every client to finish its requests."""
        for thread in self.threads:
            thread.join(PHASE_TIMEOUT_S)


def test_under_load_every_201_is_a_row_and_predictions_all_answer(start_server, database_url, bodies):
    server = healthy(start_server({"DATABASE_URL": database_url, "CORRECTIONS_PER_MINUTE": UNLIMITED}))
    load = Load(server.base_url, bodies, CORRECTIONS_EACH, PREDICTIONS_EACH).start()
    load.join()
    assert load.problems == []
    assert dict(load.counts) == {("correction", 201): CORRECTION_CLIENTS * CORRECTIONS_EACH,
                                 ("prediction", 200): PREDICTION_CLIENTS * PREDICTIONS_EACH}
    assert len(stored_rows(database_url)) == CORRECTION_CLIENTS * CORRECTIONS_EACH


def test_the_database_stopped_mid_load_gives_503_then_works_again_without_a_restart(
        start_server, database_url, bodies):
    server = healthy(start_server({"DATABASE_URL": database_url, "CORRECTIONS_PER_MINUTE": UNLIMITED}))
    load = Load(server.base_url, bodies).start()
    load.wait_for("correction", 201, ANSWERS_PER_PHASE, "corrections stored before the outage")
    with database_outage(database_url):
        predictions_before = load.count("prediction", 200)
        load.wait_for("correction", 503, ANSWERS_PER_PHASE, "corrections refused during the outage")
        load.wait_for("prediction", 200, predictions_before + ANSWERS_PER_PHASE, "predictions during the outage")
    stored_before = load.count("correction", 201)
    load.wait_for("correction", 201, stored_before + ANSWERS_PER_PHASE, "corrections stored after the outage")
    load.stop()
    statuses = {(kind, status) for kind, status in load.counts}
    assert load.problems == []
    assert statuses == {("correction", 201), ("correction", 503), ("prediction", 200)}
    rows = len(stored_rows(database_url))
    print(f"\noutage under load ({database_url.partition(':')[0]}): "
          f"{dict(sorted(load.counts.items()))}, {rows} rows stored")
    assert rows == load.count("correction", 201)
    assert "correction not stored" in server.log(), "the outage is logged"
