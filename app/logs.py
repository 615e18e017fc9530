"""Where log records go: the app's to stderr with their level, the dev server's as plain lines.

Werkzeug's development server (`flask run`) writes its own lines (address,
time, request line, status) and colours them with ANSI codes for a
terminal, expecting a handler of its own that prints the bare message. With
a handler on the root logger it adds none, so its lines came out through
ours: colour codes written raw into the log, under an "INFO werkzeug:"
label, even the line that says "WARNING". Its logger gets its own handler
instead, which prints the message alone and without the codes.
"""

import logging
import re

LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"
"""How the app's own records are written (gunicorn writes its own access log)."""

DEV_SERVER_LOGGER = "werkzeug"
"""The logger of Werkzeug's development server."""

ANSI_STYLE = re.compile(r"\x1b\[[0-9;]*m")
"""An ANSI "select graphic rendition" code, as Werkzeug colours its lines with."""


class PlainFormatter(logging.Formatter):
    """Format a record as its bare message, without ANSI colour codes."""

    def format(self, record):
        return ANSI_STYLE.sub("", super().format(record))


def configure_logging():
    """Send log records to stderr, once per process, however many apps are created."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    dev_server = logging.getLogger(DEV_SERVER_LOGGER)
    if not dev_server.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(PlainFormatter())
        dev_server.addHandler(handler)
        dev_server.setLevel(logging.INFO)
        dev_server.propagate = False
