"""Turn the corrections people sent into training files in the format of ../shared/handwriting.

    python -m model.training.corrections export --database URL --out FILE.jsonl.gz

URL is the app's DATABASE_URL (`postgresql://...`, or `sqlite:///<path>`,
by default the app's instance/corrections.sqlite3). A corrections database is
untrusted input: strangers wrote it. Every row is checked (its fields, that
its PNG decodes at the size recorded, that its strokes are finite and within
the app's limits) and a row that fails is skipped and counted by reason.
The rows that pass go to three files beside each other, each a gzip JSON
Lines file that `model.training.handwriting.load_handwriting` reads:

- FILE.jsonl.gz: one-digit corrections, as unipen-dev.jsonl.gz (label an
  int 0-9, strokes in drawing units of a 280-high canvas);
- FILE-numbers.jsonl.gz: corrections of several digits (label a string of
  digits), for tuning the reading of numbers;
- FILE-other.jsonl.gz: for the not-a-digit training, as
  unipen-dev-other.jsonl.gz, each row with a "reason": "not_a_digit" (the
  person said so; label "?": negatives to train on), or "strokes_disagree"
  (label the digits given; the strokes sent do not draw the PNG, so neither
  is a trustworthy digit sample: for review, never train on them as digits).
  Every row of this file also holds "png", the data URL of the image the app read.

Each correction is its own writer ("correction/<id>"), so
`is_measuring_writer` holds a fifth of them out for measuring. Corrections
sent without strokes cannot be written as strokes: they are counted, not
written. A summary of counts by label and by model is printed.
"""

import argparse
import base64
import collections
import gzip
import json
import math
import re
import sqlite3
import sys
import urllib.parse
from datetime import datetime
from pathlib import Path

import numpy as np

from model.atomic_write import write_atomically
from model.constants import CANVAS_HEIGHT
from model.preprocess import PNG_SIGNATURE, InputImageError, decode_image, ink_intensity
from model.training.handwriting import render_strokes

SCHEMA_VERSION = 1
"""The schema of app/storage.py that this reader knows (a test keeps the two equal)."""

COLUMNS = ("id", "created_at", "model", "answer", "label", "png", "strokes", "image_width", "image_height")

SUFFIX = ".jsonl.gz"
OTHER_SUFFIX = "-other" + SUFFIX
NUMBERS_SUFFIX = "-numbers" + SUFFIX

MAX_DIGITS = 12
MAX_STROKES = 200
MAX_STROKE_POINTS = 20_000
MAX_PIXELS = 4_000_000
"""The app's default limits: a row past them did not come through the app as it ships."""

ID = re.compile(r"[0-9a-f]{32}")
MODEL_ID = re.compile(r"[A-Za-z0-9._-]{1,100}")
LABEL = re.compile(rf"[0-9]{{1,{MAX_DIGITS}}}")
ANSWER = re.compile(rf"[0-9?]{{1,{MAX_DIGITS}}}")

INK_LEVEL = 0.5
"""A pixel at least this inked counts as ink when the PNG and its strokes are compared."""

MIN_AGREEMENT = 0.5
"""Strokes agree with their PNG when their ink overlaps it by at least this much (intersection over union).

The page's own strokes drawn with the page's pen cover its PNG almost exactly;
strokes of another drawing overlap it little or not at all.
"""

BORDER = 13
"""Drawing units kept clear around the strokes, as in the UNIPEN files (room for the pen)."""

COORDINATE_DECIMALS = 1
NOT_A_DIGIT_LABEL = "?"
WRITER_PREFIX = "correction/"
INSTITUTION = "corrections"


class MalformedRow(ValueError):
    """A stored row that the app could not have written; the message is the reason counted."""


def read_rows(url):
    """Yield the stored corrections as dicts of COLUMNS, oldest first; exit with a message on a wrong database."""
    with _connect(url) as connection:
        cursor = connection.cursor()
        try:
            cursor.execute("SELECT MAX(version) FROM schema_version")
            version = cursor.fetchone()[0] or 0
        except Exception as error:  # noqa: BLE001 - either driver's "no such table"
            raise SystemExit(f"{_shown(url)} holds no corrections schema ({error})") from None
        if version > SCHEMA_VERSION:
            raise SystemExit(f"{_shown(url)} has schema version {version}; this export knows "
                             f"{SCHEMA_VERSION}: update model/training/corrections.py first")
        cursor.execute(f"SELECT {', '.join(COLUMNS)} FROM corrections ORDER BY created_at, id")
        for values in cursor:
            yield dict(zip(COLUMNS, values))


class _connect:
    """A read-only connection to a database URL, closed at the end of the block."""

    def __init__(self, url):
        scheme = urllib.parse.urlsplit(url).scheme.lower()
        if scheme == "sqlite":
            path = Path(urllib.parse.unquote(url.split("://", 1)[1]))
            if not path.is_file():
                raise SystemExit(f"no SQLite database at {path}")
            self.connection = sqlite3.connect(f"file:{urllib.parse.quote(str(path))}?mode=ro", uri=True)
        elif scheme in ("postgres", "postgresql"):
            import psycopg

            self.connection = psycopg.connect(url)
            self.connection.read_only = True
        else:
            raise SystemExit(f"--database must be postgresql://..., postgres://... or sqlite:///<path>, "
                             f"got {_shown(url)}")

    def __enter__(self):
        return self.connection

    def __exit__(self, *exc_info):
        self.connection.close()


def _shown(url):
    """The URL without its password."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)


def checked(row):
    """Return the row's fields checked and parsed: (png ink, strokes or None); raise MalformedRow."""
    _expect(isinstance(row["id"], str) and ID.fullmatch(row["id"]), "malformed id")
    _expect(isinstance(row["model"], str) and MODEL_ID.fullmatch(row["model"]), "malformed model")
    _expect(isinstance(row["answer"], str) and ANSWER.fullmatch(row["answer"]), "malformed answer")
    _expect(row["label"] is None or (isinstance(row["label"], str) and LABEL.fullmatch(row["label"])),
            "malformed label")
    try:
        datetime.fromisoformat(row["created_at"])
    except (TypeError, ValueError):
        raise MalformedRow("malformed time") from None
    png = bytes(row["png"]) if isinstance(row["png"], (bytes, memoryview)) else b""
    _expect(png.startswith(PNG_SIGNATURE), "image not a PNG")
    try:
        image = decode_image(png, max_pixels=MAX_PIXELS)
    except InputImageError:
        raise MalformedRow("image unreadable") from None
    _expect(image.size == (row["image_width"], row["image_height"]), "image size not as recorded")
    ink = ink_intensity(image)
    _expect(ink.max() >= INK_LEVEL, "image blank")
    return ink, _checked_strokes(row["strokes"])


def _expect(condition, reason):
    if not condition:
        raise MalformedRow(reason)


def _checked_strokes(text):
    """Return the strokes of a row as lists of (x, y) floats, None when none were sent."""
    if text is None:
        return None
    try:
        strokes = json.loads(text)
    except (TypeError, ValueError, RecursionError):
        raise MalformedRow("strokes not JSON") from None
    _expect(isinstance(strokes, list) and all(isinstance(stroke, list) for stroke in strokes),
            "strokes malformed")
    _expect(len(strokes) <= MAX_STROKES and sum(map(len, strokes)) <= MAX_STROKE_POINTS, "strokes over the limits")
    points_ok = all(
        isinstance(point, list) and len(point) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in point)
        for stroke in strokes for point in stroke
    )
    _expect(points_ok, "strokes malformed")
    strokes = [[(float(x), float(y)) for x, y in stroke] for stroke in strokes if stroke]
    return strokes or None


def strokes_agree(strokes, ink):
    """Say whether the strokes, drawn with the page's pen, cover the PNG's ink.

    ink : ndarray of shape (height, width), float32 in [0, 1].
    """
    height, width = ink.shape
    drawn = np.asarray(render_strokes(strokes, size=(width, height)), dtype=np.float32) / 255
    inked, stroked = ink >= INK_LEVEL, drawn >= INK_LEVEL
    union = np.count_nonzero(inked | stroked)
    return union > 0 and np.count_nonzero(inked & stroked) / union >= MIN_AGREEMENT


def in_drawing_units(strokes, image_height):
    """Return the strokes placed on a canvas CANVAS_HEIGHT high, as the UNIPEN files place theirs.

    The page's PNG is one pixel a drawing unit, so its strokes keep their
    size; a taller image is shrunk to the canvas, and strokes too tall for
    it between BORDER margins are shrunk to fit. The ink starts BORDER from
    the left and is centred from top to bottom.
    """
    points = np.concatenate([np.asarray(stroke, dtype=np.float64) for stroke in strokes])
    low, high = points.min(axis=0), points.max(axis=0)
    room = CANVAS_HEIGHT - 2 * BORDER
    scale = min(1.0, CANVAS_HEIGHT / image_height)
    scale = min(scale, room / max(high[1] - low[1], 1e-9))
    offset = np.array([BORDER, (CANVAS_HEIGHT - (high[1] - low[1]) * scale) / 2])
    return [np.round((np.asarray(stroke) - low) * scale + offset, COORDINATE_DECIMALS).tolist() for stroke in strokes]


def png_data_url(png):
    return "data:image/png;base64," + base64.b64encode(bytes(png)).decode("ascii")


def sample_of(row, strokes):
    """Return the row as a sample of the UNIPEN files, with the correction's own fields."""
    return {
        "label": row["label"],
        "strokes": in_drawing_units(strokes, row["image_height"]),
        "writer": WRITER_PREFIX + row["id"],
        "institution": INSTITUTION,
        "style": "transparent",
        "source": f"corrections#{row['id']}",
        "model": row["model"],
        "answer": row["answer"],
    }


def sorted_sample(row, strokes, ink):
    """Return (file kind, sample) of a checked row: "digits", "numbers" or "other"."""
    sample = sample_of(row, strokes)
    label = row["label"]
    if not strokes_agree(strokes, ink):
        reason = "strokes_disagree"
    elif label is None:
        reason = "not_a_digit"
    elif len(label) == 1:
        return "digits", {**sample, "label": int(label)}
    else:
        return "numbers", sample
    return "other", {**sample, "label": label or NOT_A_DIGIT_LABEL, "reason": reason,
                     "png": png_data_url(row["png"])}


def export(url, out):
    """Write the three files beside `out` and return the counts: a dict of Counters."""
    if not out.name.endswith(SUFFIX):
        raise SystemExit(f"--out must end with {SUFFIX}, got {out}")
    stem = str(out)[: -len(SUFFIX)]
    files = {"digits": [], "numbers": [], "other": []}
    counts = collections.defaultdict(collections.Counter)
    for row in read_rows(url):
        try:
            ink, strokes = checked(row)
        except MalformedRow as reason:
            counts["skipped"][str(reason)] += 1
            continue
        if strokes is None:
            counts["skipped"]["no strokes (PNG only)"] += 1
            continue
        kind, sample = sorted_sample(row, strokes, ink)
        label = row["label"]
        counts["by model"][row["model"]] += 1
        counts["by label"]["not a digit" if label is None else label if len(label) == 1 else "numbers"] += 1
        counts["written"][kind] += 1
        if kind == "other":
            counts["other"][sample["reason"]] += 1
        files[kind].append(sample)
    paths = {"digits": out, "numbers": Path(stem + NUMBERS_SUFFIX), "other": Path(stem + OTHER_SUFFIX)}
    for kind, samples in files.items():
        lines = "".join(json.dumps(sample, separators=(",", ":")) + "\n" for sample in samples)
        write_atomically(paths[kind], gzip.compress(lines.encode("utf-8"), mtime=0))
    return counts, paths


def print_summary(counts, paths):
    written = counts["written"]
    for kind, path in paths.items():
        print(f"{path}: {written[kind]} {kind}")
    for title in ("by label", "by model", "other", "skipped"):
        entries = sorted(counts[title].items())
        print(f"{title}: " + (", ".join(f"{name} {count}" for name, count in entries) or "none"))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m model.training.corrections", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    exporting = commands.add_parser("export", help="write the corrections as handwriting files")
    exporting.add_argument("--database", required=True, help="the app's DATABASE_URL, or sqlite:///<path>")
    exporting.add_argument("--out", type=Path, required=True, help=f"the digits file, FILE{SUFFIX}")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    counts, paths = export(args.database, args.out)
    print_summary(counts, paths)
    return 0


if __name__ == "__main__":
    sys.exit(main())
