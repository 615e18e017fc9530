"""Database fixtures for the corrections tests: every test runs against SQLite and PostgreSQL.

SQLite is a file in the test's temporary folder. PostgreSQL is the database
at TEST_DATABASE_URL, which `bash .ci/test` sets after starting a throwaway
cluster in a temporary folder; without it the PostgreSQL cases skip, saying
how to run them. The corrections tables are dropped before each test, so
TEST_DATABASE_URL must name a database kept for the tests.

`database_outage` stops the database and brings it back: the SQLite file's
folder is moved away and back; the PostgreSQL cluster is stopped and started
with pg_ctl, which needs the TEST_POSTGRES_* variables that .ci/test exports.
"""

import contextlib
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from app.storage import sqlite_path, sqlite_url

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL")

POSTGRES_SKIP = (
    "PostgreSQL tests need TEST_DATABASE_URL: run them with `bash .ci/test`, which starts a "
    "throwaway PostgreSQL cluster (Debian's postgresql package), or set TEST_DATABASE_URL to a "
    "database kept for tests (its corrections tables are dropped)"
)

PG_CTL_TIMEOUT_S = 60
"""Longest wait for pg_ctl to stop or start the test cluster."""

BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path):
    """The URL of an empty corrections database: a SQLite file, then the test PostgreSQL."""
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "db" / "corrections.sqlite3")
    if POSTGRES_URL is None:
        pytest.skip(POSTGRES_SKIP)
    import psycopg

    with psycopg.connect(POSTGRES_URL) as connection:
        connection.execute("DROP TABLE IF EXISTS corrections, schema_version")
    return POSTGRES_URL


def _connect(url):
    if url.startswith("sqlite:"):
        return contextlib.closing(sqlite3.connect(sqlite_path(url)))
    import psycopg

    return psycopg.connect(url)


def stored_rows(url):
    """Return every stored correction as a dict, oldest first, read with the driver itself."""
    with _connect(url) as connection:
        cursor = connection.cursor()
        cursor.execute("SELECT * FROM corrections ORDER BY created_at, id")
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, (bytes(v) if isinstance(v, memoryview) else v for v in row)))
                for row in cursor.fetchall()]


def insert_row(url, row):
    """Store a row as it is, bypassing the app: for rows the app would never write."""
    placeholder = "?" if url.startswith("sqlite:") else "%s"
    with _connect(url) as connection:
        connection.cursor().execute(
            f"INSERT INTO corrections ({', '.join(row)}) VALUES ({', '.join([placeholder] * len(row))})",
            tuple(row.values()))
        connection.commit()


def query(url, sql):
    """Return the rows a query answers."""
    with _connect(url) as connection:
        cursor = connection.cursor()
        cursor.execute(sql)
        return cursor.fetchall()


def execute(url, sql):
    """Run one statement on the database and commit it."""
    with _connect(url) as connection:
        connection.cursor().execute(sql)
        connection.commit()


def _pg_ctl(*arguments):
    user = os.environ["TEST_POSTGRES_USER"]
    run_as = ["runuser", "-u", user, "--"] if os.geteuid() == 0 and user != "root" else []
    command = [*run_as, str(Path(os.environ["TEST_POSTGRES_BIN"]) / "pg_ctl"),
               "-D", os.environ["TEST_POSTGRES_DATA"], "-w", *arguments]
    # No pipes: the server pg_ctl starts would hold them open, and the wait would never end.
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=PG_CTL_TIMEOUT_S)


@contextlib.contextmanager
def database_outage(url):
    """Make the database unreachable inside the block, and reachable again after it."""
    if url.startswith("sqlite:"):
        folder = sqlite_path(url).parent
        away = folder.with_name(folder.name + "-away")
        folder.rename(away)
        try:
            yield
        finally:
            away.rename(folder)
        return
    if "TEST_POSTGRES_DATA" not in os.environ:
        pytest.skip("stopping PostgreSQL needs the TEST_POSTGRES_* variables that bash .ci/test exports")
    _pg_ctl("stop", "-m", "fast")
    try:
        yield
    finally:
        _pg_ctl("start", "-l", os.environ["TEST_POSTGRES_LOG"])
