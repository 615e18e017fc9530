"""Where corrections are kept: SQLite by default, PostgreSQL when DATABASE_URL names one.

One small class owns the database. The schema is created and brought up to
date at start-up from MIGRATIONS, a versioned list of SQL steps; a database
whose schema is newer than this code stops start-up, rather than writing
rows it does not understand. A database that cannot be reached at start-up
does not stop the app (predictions never need it): the steps run on the
first correction instead.

Every write opens its own connection and closes it, so a database that
went away and came back works again without a restart, and no connection is
ever shared across gunicorn's fork. At most CONCURRENT_WRITES writes a
process wait on the database at once, which bounds the connections a burst
can open (Heroku's smallest Postgres plan allows 20).

SQL placeholders differ (`?` in sqlite3, `%s` in psycopg), and so do the
binary column type and the way to take the start-up lock: each dialect says
its own; the statements are the same.
"""

import logging
import sqlite3
import threading
import urllib.parse
from pathlib import Path

logger = logging.getLogger(__name__)

SQLITE_FILE = "corrections.sqlite3"
"""The default database: this file in Flask's instance folder."""

POSTGRES_SCHEMES = ("postgres", "postgresql")
SQLITE_SCHEME = "sqlite"

MIGRATIONS = (
    """CREATE TABLE corrections (
        id TEXT PRIMARY KEY,
        created_at TEXT NOT NULL,
        model TEXT NOT NULL,
        answer TEXT NOT NULL,
        label TEXT,
        png {binary} NOT NULL,
        strokes TEXT,
        image_width INTEGER NOT NULL,
        image_height INTEGER NOT NULL
    )""",
)
"""The schema, one step per version: step i takes a database from version i to i + 1.

A row holds nothing that identifies a person: no address, no agent, no
cookie. `label` NULL means "not a digit"; `strokes` is JSON or NULL;
`created_at` is ISO 8601 in UTC. Add a step to change the schema, never edit one.
"""

SCHEMA_VERSION = len(MIGRATIONS)

COLUMNS = ("id", "created_at", "model", "answer", "label", "png", "strokes", "image_width", "image_height")

CONNECT_TIMEOUT_S = 3
"""How long a write waits to connect, or for SQLite's write lock, before answering 503."""

CONCURRENT_WRITES = 4
"""Writes a worker process sends to the database at once; more wait up to CONNECT_TIMEOUT_S."""

MIGRATION_LOCK_ID = 210_021
"""PostgreSQL advisory lock that keeps two processes from migrating at once."""


class StorageUnavailable(RuntimeError):
    """The database cannot be reached or refused the write; the message says why."""


class SchemaTooNewError(RuntimeError):
    """The database was migrated by newer code than this."""


class Storage:
    """The corrections database named by `url`: `sqlite:///<path>` or `postgresql://...`."""

    def __init__(self, url):
        self.url = url
        self.dialect = dialect_for(url)
        self._write_slots = threading.BoundedSemaphore(CONCURRENT_WRITES)
        self._migrated = False
        self._migration_lock = threading.Lock()

    def prepare(self):
        """Create or migrate the schema at start-up; an unreachable database is only logged.

        Raises SchemaTooNewError, which stops start-up.
        """
        try:
            self.migrate()
        except StorageUnavailable as error:
            logger.warning("corrections database not reachable at start-up (%s); "
                           "the schema will be checked on the first correction", error)

    def migrate(self):
        """Bring the schema up to SCHEMA_VERSION, once per process."""
        with self._migration_lock:
            if self._migrated:
                return
            with self._connection(create=True) as connection:
                version = self.dialect.lock_and_read_version(connection)
                if version > SCHEMA_VERSION:
                    raise SchemaTooNewError(
                        f"the corrections database {describe_url(self.url)} has schema version "
                        f"{version}, newer than this code's {SCHEMA_VERSION}: deploy the newer "
                        "code, or set DATABASE_URL to another database"
                    )
                for step in MIGRATIONS[version:]:
                    connection.execute(step.format(binary=self.dialect.binary_type))
                if version < SCHEMA_VERSION:
                    connection.execute("DELETE FROM schema_version")
                    connection.execute(
                        f"INSERT INTO schema_version (version) VALUES ({self.dialect.placeholder})",
                        (SCHEMA_VERSION,),
                    )
                    logger.info("corrections database migrated from version %d to %d", version, SCHEMA_VERSION)
            self._migrated = True

    def add(self, row):
        """Store one correction, a dict with every name in COLUMNS; raise StorageUnavailable."""
        if not self._write_slots.acquire(timeout=CONNECT_TIMEOUT_S):
            raise StorageUnavailable("too many corrections are being written at once")
        try:
            self.migrate()
            placeholders = ", ".join([self.dialect.placeholder] * len(COLUMNS))
            with self._connection() as connection:
                connection.execute(
                    f"INSERT INTO corrections ({', '.join(COLUMNS)}) VALUES ({placeholders})",
                    tuple(row[name] for name in COLUMNS),
                )
        finally:
            self._write_slots.release()

    def count(self):
        """Return how many corrections are stored; raise StorageUnavailable."""
        with self._connection() as connection:
            return connection.execute("SELECT COUNT(*) FROM corrections").fetchone()[0]

    def _connection(self, create=False):
        return _Transaction(self.dialect, self.url, create)


class _Transaction:
    """A connection for one transaction: committed on success, rolled back on error, always closed.

    Every error of the driver becomes StorageUnavailable.
    """

    def __init__(self, dialect, url, create):
        self.dialect, self.url, self.create = dialect, url, create
        self.connection = None

    def __enter__(self):
        try:
            self.connection = self.dialect.connect(self.url, self.create)
        except self.dialect.errors as error:
            raise StorageUnavailable(_reason(error)) from error
        return self

    def execute(self, sql, parameters=()):
        try:
            cursor = self.connection.cursor()
            cursor.execute(sql, parameters)
            return cursor
        except self.dialect.errors as error:
            raise StorageUnavailable(_reason(error)) from error

    def __exit__(self, error_type, error, traceback):
        try:
            if error_type is None:
                self.connection.commit()
            else:
                self.connection.rollback()
        except self.dialect.errors as driver_error:
            if error_type is None:
                raise StorageUnavailable(_reason(driver_error)) from driver_error
        finally:
            try:
                self.connection.close()
            except self.dialect.errors:
                pass  # a connection that is already gone has nothing left to close
        return False


def _reason(error):
    """The driver's message, on one line."""
    return " ".join(str(error).split()) or type(error).__name__


class SQLiteDialect:
    """The standard library's sqlite3: a file, in WAL mode so that readers never block the writer."""

    placeholder = "?"
    binary_type = "BLOB"
    errors = (sqlite3.Error, OSError)

    @staticmethod
    def connect(url, create):
        """Open the file; only start-up may create it, so a file that went away is an error, not a fresh database."""
        path = sqlite_path(url)
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
        mode = "rwc" if create else "rw"
        uri = f"file:{urllib.parse.quote(str(path))}?mode={mode}"
        connection = sqlite3.connect(uri, uri=True, timeout=CONNECT_TIMEOUT_S, isolation_level="DEFERRED")
        if create:
            connection.execute("PRAGMA journal_mode=WAL")
        return connection

    @staticmethod
    def lock_and_read_version(connection):
        connection.execute("BEGIN IMMEDIATE")
        return _read_version(connection)


class PostgresDialect:
    """PostgreSQL through psycopg 3."""

    placeholder = "%s"
    binary_type = "BYTEA"

    def __init__(self):
        import psycopg  # only when a PostgreSQL database is configured

        self.psycopg = psycopg
        self.errors = (psycopg.Error,)

    def connect(self, url, create):
        return self.psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S)

    @staticmethod
    def lock_and_read_version(connection):
        connection.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_ID,))
        return _read_version(connection)


def _read_version(connection):
    """Return the schema version, creating the table that records it when it is missing."""
    connection.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    row = connection.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return row[0] or 0


def dialect_for(url):
    """Return the dialect of a database URL, or raise ValueError naming DATABASE_URL."""
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme == SQLITE_SCHEME:
        return SQLiteDialect()
    if scheme in POSTGRES_SCHEMES:
        return PostgresDialect()
    raise ValueError(
        f"DATABASE_URL must start with postgresql://, postgres:// or sqlite:///, got {describe_url(url)!r}"
    )


def sqlite_path(url):
    """Return the file of a `sqlite:///<path>` URL."""
    return Path(urllib.parse.unquote(url.split("://", 1)[1]))


def sqlite_url(path):
    """Return the URL of a SQLite file."""
    return f"{SQLITE_SCHEME}://{Path(path).resolve()}"


def describe_url(url):
    """Return the URL without its password, for messages and logs."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))
