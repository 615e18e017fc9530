"""The pages people open in a browser."""

from flask import Blueprint, render_template

bp = Blueprint("pages", __name__)


@bp.get("/")
def index():
    """Show the drawing page."""
    return render_template("index.html")
