"""The smallest Flask app: the baseline that /predict's throughput is compared with.

Served by the Procfile's gunicorn with the same gunicorn.conf.py as the real
app (``ProcfileServer(..., app_spec=BARE_APP_SPEC)``), it measures what HTTP,
gunicorn and Flask cost on their own. Its one route is /healthz, so that the
server's readiness check works unchanged; it accepts POST too, so the bench
can send it the very request it sends to /predict (gunicorn discards the
unread body).
"""

from flask import Flask

BARE_APP_SPEC = "bench.bare_app:create_app()"
"""The gunicorn app spec that serves this app."""

BARE_PATH = "/healthz"
"""The app's one route, which the benchmarks send their requests to."""

CONSTANT_ANSWER = {"status": "ok"}


def create_app():
    """Create an app whose one route answers a constant JSON object."""
    app = Flask(__name__)

    @app.route(BARE_PATH, methods=["GET", "POST"])
    def healthz():
        """Answer without looking at the request."""
        return CONSTANT_ANSWER

    return app
