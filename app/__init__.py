"""The web layer: a Flask app that serves the drawing page and the JSON API."""

from pathlib import Path

from flask import Flask

import model
from model.report_files import DEFAULT_REPORT_DIR

from . import api, corrections, errors, headers, pages, report
from .config import config_from_env
from .logs import configure_logging
from .upload_deadline import UploadDeadlineMiddleware

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config=None):
    """Create the app, loading the model once for all requests.

    `test_config` overrides the settings read from the environment. A
    missing or malformed model file stops start-up with a message naming it;
    the evaluation report shown on /model (REPORT_DIR, model/report by
    default) is read here too, but without it the app still starts.
    """
    app = Flask(
        __name__,
        static_folder=str(PROJECT_ROOT / "static"),
        template_folder=str(PROJECT_ROOT / "templates"),
    )
    app.config.from_mapping(config_from_env())
    if test_config is not None:
        app.config.from_mapping(test_config)

    configure_logging()
    app.extensions[api.MODEL_KEY] = model.load(app.config["MODEL_PATH"])
    app.config.setdefault("REPORT_DIR", str(DEFAULT_REPORT_DIR))
    app.extensions[pages.MODEL_PAGE_KEY] = report.describe_model(
        app.extensions[api.MODEL_KEY], app.config["MODEL_PATH"], app.config["REPORT_DIR"]
    )

    errors.init_app(app)
    headers.init_app(app)
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    corrections.init_app(app)
    app.wsgi_app = UploadDeadlineMiddleware(app.wsgi_app, app.config["UPLOAD_TIMEOUT_SECONDS"])
    return app
