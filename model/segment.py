"""Find the digits of a handwritten number: marks, merged parts, split touching digits.

A drawing is read in three steps, each decided on measurements of the
composed numbers of training writers (`python -m bench.numbers --in-process`):

1. Marks: connected ink above the stroke level, specks dropped (`model.marks`).
2. Merging: marks whose columns overlap are parts of one digit, and a
   small mark (a dot, a short bar) joins the nearest digit when it is
   close to it (`model.marks`).
3. Cutting: a digit group wide for its height may hold touching or
   overlapping digits. Candidate cut columns are spaced across it, every
   span between two of them is a candidate piece, and the network reads
   all of them in one batched call. The cheapest path of pieces from the
   left edge to the right (`reading_cost`, the group read whole among the
   paths) wins, so chains of touching digits are cut in one go.

Everything is relative to the drawing's own scale (the tallest digit and
the pen width), so the same rules hold for the page's 280 px surface and
for any other upload size. Scoring goes through `reading_cost`, the one
place where the network's probabilities and its not-a-digit answers are
weighed, for the pixel and the stroke segmenters alike: a wrong cut leaves
half a digit, and two touching digits read as one, both of which a network
trained on such pieces rejects.

Every step costs at most a constant times the image's pixels, whatever
it holds: a group of many marks (noise, hatching) is read whole, never
cut; large pieces are shrunk before cuts are tried on them; and the
candidate pieces of a drawing share fixed budgets of pixels and fields.
"""

from typing import NamedTuple

import numpy as np
from PIL import Image
from scipy import ndimage

from model.marks import (
    EIGHT_NEIGHBOURS,
    TooManyDigitsError,
    find_marks,
    group_marks,
    group_spans,
    pen_width,
    too_many,
)
from model.preprocess import INK_NOISE_LEVEL, STROKE_MASK_LEVEL, NoInkError, digit_field

__all__ = ["CLEAR_TOP", "Region", "TooManyDigitsError", "best_path", "find_digits", "reading_cost"]
"""What callers take from here; TooManyDigitsError comes from model.marks, where the limit is checked."""

TEXTURE_MARKS = 64
"""A group of more marks than this is a texture (noise, hatching, confetti), not touching digits: it is read whole, never cut."""

TEXTURE_HOLES = 64
"""A piece enclosing more holes than this is a texture (crossed hatching, a mesh): touching digits have two or so each."""

SPLIT_WIDTH = 0.8
"""Only groups at least this wide, as a share of the tallest height, are tried for cutting."""

MIN_PIECE_WIDTH = 1.5
"""A piece of a cut group is at least this many pen widths wide."""

MAX_PIECE_WIDTH = 1.2
"""A piece of a cut group is at most this wide, as a share of the tallest height (the group itself may be wider)."""

SURE_WHOLE_WIDTH = 1.0
"""A group narrower than this share of the tallest height that reads as a clear digit (CLEAR_TOP) is never cut.

Most touching pairs are wider (72% of those of training writers), and a
digit drawn in an unusual way can read as a clear digit while the network
gives much of its belief to letters: a 4 whose upright stops short of the
bar reads 0.90 as a 4 with a digit share of 0.2, and its cheapest cut was
"11". It costs 0.8 points of touching pairs read right (77.6% to 76.8%)."""

MIN_PIECE_HEIGHT = 0.4
"""A piece of a cut group has ink at least this high, as a share of the tallest height.

Slices of a long bar or of an underline read as small digits; no digit of
a number is that much shorter than its neighbours. Kept an isolated 5
with a long bar from being read as ten digits."""

CRUMB_SHARE = 0.15
"""After a cut, ink cut off from the rest and smaller than this share of the piece is dropped."""

CRUMB_MARGIN = 5
"""Side of the square around each crumb pixel whose faint ink is dropped with it (two pixels each way)."""

CUT_STEP = 0.5
"""Candidate cut columns are spaced this many pen widths apart across a wide group."""

MAX_CUTS = 30
"""Most candidate cut columns across one group; a wider group has them spaced further apart.

Settings chosen on 400 composed numbers and 1,200 isolated digits of
training writers: a step of 0.33 pen widths and 40 columns read fewer
touching pairs right (75.2% against 76.8%), and pieces up to 1.4 tallest
heights wide no more than 1.2 (76.8% against 77.6%)."""

PATH_FIELDS = 1500
"""Most candidate pieces read for one drawing: with many wide groups, each gets fewer cut columns."""

CLEAR_TOP = 0.9
"""A clear digit reads with at least this top probability: so must each piece the stroke reader cuts, and a narrow group this sure is never cut.

A dash, an underline or a long scribble is wide for its own height, so the
width alone would let any cut through; their pieces read as no digit."""

PIECE_TOP = 0.8
"""Each piece of a cut group reads as a digit with at least this top probability.

From 0.9 to 0.8, touching pairs of training writers read right went from
72.8% to 76.8%, isolated digits read as one stayed at 99.75%."""

DIGIT_COST = 1.0
"""Fixed cost of one more digit in a path, in the units of `reading_cost` (natural log)."""

NOT_DIGIT_COST = 8.0
"""Cost added to a reading that the network says is not a digit.

Chosen for the stroke reader on 800 composed numbers of training writers:
from 4 to 8, numbers read whole went from 91.5% to 92.0% (a 5's long bar
stays with its 5 rather than standing as a digit of its own); 12 lost it
again."""

SHARE_WEIGHT = 4.0
"""How much the network's share of belief that a reading is a digit at all weighs in `reading_cost`.

The yes-or-no `is_digit` misses most wrong cuts and touching pairs: their
digit share falls well before it crosses the calibrated threshold. On 400
composed numbers of training writers cut by pixels (pieces at least 0.9
sure), weights of 0, 1, 2, 4 and 8 read 56.0%, 66.4%, 68.8%, 71.2% and
72.0% of touching pairs right; numbers without touching digits stayed at
97.5%, and isolated digits read as one did not fall. A digit read at the
calibrated threshold of the committed model (a share of 0.17) pays about
7, close to NOT_DIGIT_COST, which replaces this term where the network
sees no digit."""

PROBABILITY_FLOOR = 1e-6
"""Keeps the logs of the top probability and of the digit share finite."""

PROBE_HEIGHT = 280
"""Pieces taller than this (the page's surface) are shrunk to it before cuts are tried on them."""

PROBE_PIXELS = 4 * PROBE_HEIGHT**2
"""Pieces with more pixels than this are shrunk to it before cuts are tried on them."""

PATH_PIXELS = 8_000_000
"""Pixels of all the candidate pieces of a drawing together, about; more, and the groups are shrunk.

A group up to about 480 px wide on the page's 280 px surface, two touching
digits, stays below it; it bounds what a huge squiggle drawn with a
one-pixel pen can cost."""


class Region(NamedTuple):
    """One digit found in a drawing."""

    box: tuple
    """(x, y, width, height) in pixels of the ink array, of this digit's ink."""
    field: np.ndarray
    """(28, 28) float32: `digit_field` of this digit's own ink."""


class _Piece(NamedTuple):
    """Ink belonging to one candidate digit: a window of the drawing and the pixels that count."""

    top: int
    left: int
    ink: np.ndarray
    """ndarray of shape (height, width), float32: the drawing's ink with other digits' pixels zeroed."""
    mask: np.ndarray
    """ndarray of shape (height, width), bool: this piece's stroke pixels."""
    field: np.ndarray = None
    """(28, 28) float32: `digit_field` of the ink, once it has been computed."""
    whole: bool = False
    """Read as it is, never cut: a texture of many marks (noise, hatching), not touching digits."""

    @property
    def width(self):
        return self.ink.shape[1]

    def box(self):
        """Return (x, y, width, height) of the stroke pixels, in pixels of the drawing."""
        rows = np.flatnonzero(self.mask.any(axis=1))
        columns = np.flatnonzero(self.mask.any(axis=0))
        return (self.left + int(columns[0]), self.top + int(rows[0]),
                int(columns[-1] - columns[0] + 1), int(rows[-1] - rows[0] + 1))

    def cropped(self):
        """Return the same piece cut down to its stroke pixels' box."""
        x, y, width, height = self.box()
        rows = slice(y - self.top, y - self.top + height)
        columns = slice(x - self.left, x - self.left + width)
        return _Piece(y, x, self.ink[rows, columns], self.mask[rows, columns])

    def between(self, start, stop):
        """Return the piece's ink between two columns (relative to the piece), or None where it has none."""
        mask = self.mask[:, start:stop]
        if not mask.any():
            return None
        return _Piece(self.top, self.left + start, self.ink[:, start:stop], mask).without_crumbs()

    def without_crumbs(self):
        """Return the piece without the small bits a cut slices off a neighbouring digit, cropped."""
        labels, count = ndimage.label(self.mask, structure=EIGHT_NEIGHBOURS)
        if count > 1:
            sizes = np.bincount(labels.ravel())
            sizes[0] = 0
            crumbs = np.flatnonzero(sizes < CRUMB_SHARE * sizes.sum())
            crumbs = crumbs[(crumbs > 0) & (crumbs != sizes.argmax())]
            if crumbs.size:
                is_crumb = np.zeros(count + 1, dtype=bool)
                is_crumb[crumbs] = True
                crumb_pixels = is_crumb[labels]
                near_crumbs = ndimage.maximum_filter(crumb_pixels, size=CRUMB_MARGIN, mode="constant") & ~self.mask
                return _Piece(self.top, self.left, np.where(crumb_pixels | near_crumbs, 0,
                                                            self.ink).astype(np.float32),
                              self.mask & ~crumb_pixels).cropped()
        return self.cropped()


def reading_cost(prediction):
    """Return what reading each field as one digit costs a path: lower is likelier.

    prediction : a model.Prediction for n fields
    Returns ndarray of shape (n,), float64: minus the log of the top
    probability, DIGIT_COST, and for a field the network calls a digit,
    SHARE_WEIGHT times minus the log of its digit share; for one it calls
    no digit, NOT_DIGIT_COST instead, whatever its share (an X must not cost
    so much that two crossing strokes are cheaper as two 1s).
    """
    top = prediction.probabilities.max(axis=1).astype(np.float64)
    share = np.maximum(np.asarray(prediction.digit_share, dtype=np.float64), PROBABILITY_FLOOR)
    doubt = np.where(prediction.is_digit, -SHARE_WEIGHT * np.log(share), NOT_DIGIT_COST)
    return -np.log(np.maximum(top, PROBABILITY_FLOOR)) + doubt + DIGIT_COST


def best_path(count, candidates, costs):
    """Return the indices into candidates of the spans that cover 0..count at the least cost, or None.

    candidates : list of (start, stop), sorted by start; costs : ndarray of shape (len(candidates),)
    None when no path of finite cost covers them.
    """
    best = np.full(count + 1, np.inf)
    best[0] = 0.0
    came_from = np.zeros(count + 1, dtype=np.int64)
    for index, (start, stop) in enumerate(candidates):
        # Candidates come by start, so every path into `start` is final before it is extended.
        total = best[start] + costs[index]
        if total < best[stop]:
            best[stop] = total
            came_from[stop] = index
    if not np.isfinite(best[count]):
        return None
    chosen = []
    stop = count
    while stop > 0:
        chosen.append(int(came_from[stop]))
        stop = candidates[came_from[stop]][0]
    return chosen[::-1]


def find_digits(ink, recognise, max_digits):
    """Return the digits of a drawing as Regions in reading order, left to right.

    ink : ndarray of shape (height, width), float32 in [0, 1], from `ink_from_bytes`
    recognise : the model's `recognise`, fields of shape (n, 28, 28) to a Prediction
    Raises NoInkError for a blank drawing, TooManyDigitsError for more than
    `max_digits` separate marks.
    """
    if not (ink > INK_NOISE_LEVEL).any():
        raise NoInkError()
    mask = ink > STROKE_MASK_LEVEL
    if not mask.any():
        mask = ink > INK_NOISE_LEVEL
    labels, boxes, sizes = find_marks(mask)
    pen = pen_width(mask, labels, sizes)
    kept, group_of = group_marks(boxes, pen, max_digits)
    spans = group_spans(boxes[kept], group_of)
    tallest = int((spans[:, 3] - spans[:, 1]).max())
    pieces = _group_pieces(ink, mask, labels, len(boxes), kept, group_of, spans)
    pieces = _cut_touching(pieces, recognise, tallest, pen, max_digits)
    if len(pieces) > max_digits:
        raise too_many(len(pieces), max_digits)
    pieces.sort(key=lambda piece: piece.left + piece.width / 2)
    return [Region(piece.box(), _field(piece)) for piece in pieces]


def _group_pieces(ink, mask, labels, n_marks, kept, group_of, spans):
    """Return a _Piece for each group: its box of the drawing, other marks' and specks' pixels zeroed.

    kept : indices (labels - 1) of the n_marks marks that are in groups; group_of : the group of each
    A drawing whose marks are all one group is its own piece, without copying.
    """
    textures = np.bincount(group_of) > TEXTURE_MARKS
    if len(spans) == 1 and kept.size == n_marks:
        x0, y0, x1, y1 = (int(value) for value in spans[0])
        return [_Piece(y0, x0, ink[y0:y1, x0:x1], mask[y0:y1, x0:x1], whole=bool(textures[0]))]
    owner = np.full(n_marks + 1, -1, dtype=np.int32)
    owner[kept + 1] = group_of
    return [_group_piece(ink, labels, owner, group, span)._replace(whole=bool(texture))
            for group, (span, texture) in enumerate(zip(spans, textures))]


def _group_piece(ink, labels, owner, group, span):
    """Return the group's ink: its box of the drawing, other marks' pixels zeroed.

    owner : ndarray of shape (marks + 1,), the group of each label (-1 for background and specks)
    """
    x0, y0, x1, y1 = (int(value) for value in span)
    window = labels[y0:y1, x0:x1]
    own = owner[window] == group
    return _Piece(y0, x0, np.where(own | (window == 0), ink[y0:y1, x0:x1], 0).astype(np.float32),
                  own)


def _field(piece):
    """Return the piece's `digit_field`, computed once."""
    return digit_field(piece.ink) if piece.field is None else piece.field


def _probe_scale(piece):
    """Return the scale at which cuts are tried on a piece: 1, or less for a large piece.

    A digit's field is 20 pixels across, so a smaller copy reads the same.
    """
    height, width = piece.ink.shape
    return min(1.0, PROBE_HEIGHT / height, float(np.sqrt(PROBE_PIXELS / (height * width))))


def _probe(piece, scale):
    """Return the piece shrunk by `scale` (at most 1), its ink back at full contrast."""
    if scale == 1:
        return piece
    height, width = piece.ink.shape
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    ink = _shrunk(piece.ink, size)
    ink = ink / max(float(ink.max()), INK_NOISE_LEVEL)
    return _Piece(0, 0, ink, ink > INK_NOISE_LEVEL).cropped()


def _shrunk(array, size):
    """Return `array` (height, width) averaged down to size (width, height), float32."""
    image = Image.fromarray(np.ascontiguousarray(array, dtype=np.float32), mode="F")
    return np.asarray(image.resize(size, Image.Resampling.BOX))


def _is_texture(piece):
    """Say whether a piece encloses more holes than touching digits could: crossed hatching, a mesh."""
    background, count = ndimage.label(~piece.mask)
    if count <= TEXTURE_HOLES:
        return False
    edges = np.concatenate([background[0], background[-1], background[:, 0], background[:, -1]])
    return count - np.count_nonzero(np.unique(edges)) > TEXTURE_HOLES


def _cut_spans(width, pen, tallest, most_columns):
    """Return the candidate cut columns of a group `width` wide, and the spans between them read as pieces.

    Returns (columns, spans): columns an ndarray of ints from 0 to width,
    spans a list of (start, stop) indices into columns, sorted by start,
    the whole group (0, last) among them.
    """
    first = int(np.ceil(MIN_PIECE_WIDTH * pen))
    last = int(width - MIN_PIECE_WIDTH * pen)
    step = max(1.0, CUT_STEP * pen, (last - first) / max(most_columns, 1))
    inner = np.round(np.arange(first, last + 1, step)) if last >= first else np.zeros(0)
    columns = np.unique(np.concatenate([[0, width], inner]).astype(np.int64))
    starts, stops = np.triu_indices(len(columns), 1)
    span = columns[stops] - columns[starts]
    whole = (starts == 0) & (stops == len(columns) - 1)
    keep = whole | ((span >= MIN_PIECE_WIDTH * pen) & (span <= MAX_PIECE_WIDTH * tallest))
    return columns, list(zip(starts[keep].tolist(), stops[keep].tolist()))


def _most_columns(n_groups):
    """Return how many cut columns each of n_groups wide groups gets, within PATH_FIELDS pieces in all."""
    return min(MAX_CUTS, int(np.sqrt(2 * PATH_FIELDS / max(n_groups, 1))))


def _probe_scales(pieces, pen, tallest):
    """Return the scale each piece's cuts are tried at: each large piece shrunk, then all within PATH_PIXELS.

    The candidate pieces of a group cost about the sum of their spans'
    widths times its height; shrinking keeps where the cuts fall relative
    to the pen and costs the square of the scale.
    """
    scales = np.array([_probe_scale(piece) for piece in pieces])
    most_columns = _most_columns(len(pieces))
    cost = 0.0
    for piece, scale in zip(pieces, scales):
        columns, spans = _cut_spans(piece.width, pen, tallest, most_columns)
        widths = sum(int(columns[stop] - columns[start]) for start, stop in spans)
        cost += widths * piece.ink.shape[0] * scale**2
    return scales * min(1.0, float(np.sqrt(PATH_PIXELS / max(cost, 1))))


def _cut_touching(pieces, recognise, tallest, pen, max_digits):
    """Cut wide pieces along the cheapest path of candidate pieces; return all pieces.

    The wholes are read first, in one call: a whole whose reading costs less
    than two digits could is kept without cutting, which spares most single
    digits the cost; so is a texture. The candidate pieces of every other
    wide piece are then cut from copies shrunk to PROBE_PIXELS and, together,
    to PATH_PIXELS, and read in one call. A candidate counts only when it is
    a clear digit (PIECE_TOP) at least MIN_PIECE_HEIGHT high; the whole
    counts as it reads.
    """
    is_wide = [piece.width >= SPLIT_WIDTH * tallest and not piece.whole for piece in pieces]
    final = [piece for piece, wide in zip(pieces, is_wide) if not wide]
    wide = [piece._replace(field=_field(piece)) for piece, wide in zip(pieces, is_wide) if wide]
    if not wide:
        return final
    whole_prediction = recognise(np.stack([piece.field for piece in wide]))
    whole_costs = reading_cost(whole_prediction)
    sure = (whole_prediction.is_digit & (whole_prediction.probabilities.max(axis=1) >= CLEAR_TOP)
            & (np.array([piece.width for piece in wide]) < SURE_WHOLE_WIDTH * tallest))
    hopeful = [cost >= 2 * DIGIT_COST and not keep and not _is_texture(piece)
               for piece, cost, keep in zip(wide, whole_costs, sure)]
    final.extend(piece for piece, keep in zip(wide, hopeful) if not keep)
    wide = [piece for piece, keep in zip(wide, hopeful) if keep]
    whole_costs = whole_costs[hopeful]
    if not wide:
        return final
    scales = _probe_scales(wide, pen, tallest)
    most_columns = _most_columns(len(wide))
    tried = [_tried_pieces(piece, pen, tallest, scale, most_columns) for piece, scale in zip(wide, scales)]
    fields = [field for _, _, candidates in tried for field in candidates.values()]
    if not fields:
        return final + wide
    prediction = recognise(np.stack(fields))
    costs = reading_cost(prediction)
    clear = prediction.is_digit & (prediction.probabilities.max(axis=1) >= PIECE_TOP)
    costs[~clear] = np.inf
    start = 0
    for piece, whole_cost, (columns, spans, candidates) in zip(wide, whole_costs, tried):
        piece_costs = np.full(len(spans), np.inf)
        read = list(candidates)
        piece_costs[read] = costs[start:start + len(read)]
        start += len(read)
        whole = spans.index((0, len(columns) - 1))
        piece_costs[whole] = whole_cost
        chosen = best_path(len(columns) - 1, spans, piece_costs)
        if chosen == [whole]:
            final.append(piece)
            continue
        cut = [piece.between(columns[spans[index][0]], columns[spans[index][1]]) for index in chosen]
        final.extend(part for part in cut if part is not None)
    if len(final) > max_digits:
        raise too_many(len(final), max_digits)
    return final


def _tried_pieces(piece, pen, tallest, scale, most_columns):
    """Return (columns, spans, {span index: field}) of the candidate pieces of a wide piece.

    columns are a list of ints, in the piece's own pixels; the candidates are read on the
    piece shrunk by `scale`, and only spans whose ink is clear of the
    height rule get a field. The whole is not among the fields: it has been read.
    """
    probe = _probe(piece, scale)
    probe_columns, spans = _cut_spans(probe.width, pen * scale, tallest * scale, most_columns)
    columns = probe_columns
    if scale != 1:
        columns = np.clip(np.round((probe.left + probe_columns) / scale), 0, piece.width).astype(np.int64)
        columns[0], columns[-1] = 0, piece.width
    whole = (0, len(probe_columns) - 1)
    candidates = {}
    for index, (start, stop) in enumerate(spans):
        if (start, stop) == whole:
            continue
        part = probe.between(int(probe_columns[start]), int(probe_columns[stop]))
        if part is not None and part.ink.shape[0] >= MIN_PIECE_HEIGHT * tallest * scale:
            candidates[index] = digit_field(part.ink)
    return columns.tolist(), spans, candidates
