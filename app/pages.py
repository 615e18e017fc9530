"""The pages people open in a browser: the drawing page and the model page.

What the model page shows is read and formatted once at start-up by
`app.report.describe_model`; the views here only fill in the templates
and serve the report's pictures.
"""

from flask import Blueprint, abort, current_app, render_template, request, send_from_directory

from model.constants import IMAGE_SIDE, N_CLASSES
from model.report_files import REPORT_PICTURES

bp = Blueprint("pages", __name__)

MODEL_PAGE_KEY = "model_page"
"""Where create_app keeps the model page's ModelDescription in `app.extensions`."""

STROKE_WIDTH = 10
"""Pen width in logical pixels on the page's 280-pixel drawing, chosen by measurement.

Thinner than the UNIPEN recipe's PEN_WIDTH: a long number fitted to the
surface has small digits, and a wide pen fills them into blobs. 300
composed numbers of the calibration writers, fitted to a surface 400 units
wide (a phone) and read with their strokes: pens of 18, 14, 12, 10 and 8
read 238, 260, 271, 275 and 280 whole; 933 units wide (a desktop): 276,
278, 278, 282 and 284. Their single digits drawn 100 to 220 units high read
the same with 10 as with 18 (within 0.2 points); 10 keeps the line bold on
a phone. The template writes it into the canvas's data-stroke-width, where
static/app.js, the browser tests and bench/browser_replay.py read it.
"""

IMAGE_MAX_AGE_S = 365 * 24 * 60 * 60
"""Cache lifetime of a report picture fetched with its current digest in ?v=."""


def get_model_description():
    """Return the model page's description, read once at start-up."""
    return current_app.extensions[MODEL_PAGE_KEY]


# Views ---------------------------------------------------------------------------


@bp.get("/")
def index():
    """Show the drawing page."""
    return render_template("index.html", stroke_width=STROKE_WIDTH)


@bp.get("/model")
def model_page():
    """Show how the model was made, how well it reads the MNIST test set and rejects non-digits."""
    description = get_model_description()
    return render_template(
        "model.html",
        model=description.model,
        rejection=description.rejection,
        report=description.report,
        problem=description.problem,
        images=description.images,
        image_side=IMAGE_SIDE,
        digits=range(N_CLASSES),
        report_command="python -m model.evaluation.evaluate",
    )


@bp.get("/model/report/<name>.png")
def report_image(name):
    """Serve one of the report's pictures; cache it for a year when asked for by digest."""
    image = get_model_description().images.get(name)
    if image is None:
        abort(404, f"The report has no picture named {name}.png.")
    current = request.args.get("v") == image.digest
    response = send_from_directory(
        get_model_description().report_dir,
        REPORT_PICTURES[name],
        mimetype="image/png",
        max_age=IMAGE_MAX_AGE_S if current else 0,
    )
    if current:
        response.cache_control.immutable = True
    else:
        response.cache_control.no_cache = True
    return response
