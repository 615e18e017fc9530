"""Find the digits of a handwritten number: marks, merged parts, split touching digits.

A drawing is read in three steps, each decided on measurements of the
composed numbers of training writers (`python -m bench.numbers --in-process`):

1. Marks: connected ink above the stroke level, specks dropped (`model.marks`).
2. Merging: marks whose columns overlap are parts of one digit, and a
   small mark (a dot, a short bar) joins the nearest digit when it is
   close to it (`model.marks`).
3. Splitting: a digit group wide for its height may hold touching or
   overlapping digits. Cuts are tried between its marks and at its
   thinnest columns; the network reads every candidate piece in one
   batched call, and a cut is kept only when both pieces read clearly
   better than the whole. Pieces are examined again, for chains of
   touching digits.

Everything is relative to the drawing's own scale (the tallest digit and
the pen width), so the same rules hold for the page's 280 px surface and
for any other upload size. Scoring goes through `doubt`, the one place
where the network's probabilities and its not-a-digit answer are weighed:
a wrong cut leaves half a digit, and two touching digits read as one, both
of which a network trained on such pieces rejects.

Every step costs at most a constant times the image's pixels, whatever
it holds: a group of many marks (noise, hatching) is read whole, never
cut; large pieces are shrunk before cuts are tried on them; and the cuts
of one round of splitting share a fixed budget of pixels.
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

__all__ = ["Region", "TooManyDigitsError", "doubt", "find_digits"]
"""What callers take from here; TooManyDigitsError comes from model.marks, where the limit is checked."""

TEXTURE_MARKS = 64
"""A group of more marks than this is a texture (noise, hatching, confetti), not touching digits: it is read whole, never cut."""

TEXTURE_HOLES = 64
"""A piece enclosing more holes than this is a texture (crossed hatching, a mesh): touching digits have two or so each."""

SPLIT_WIDTH = 0.8
"""Only groups at least this wide, as a share of the tallest height, are tried for splitting."""

MIN_PIECE_WIDTH = 1.5
"""A piece of a split is at least this many pen widths wide."""

CUT_STEP = 0.33
"""Cut points are tried every this many pen widths across a wide group."""

CUT_BAND = 0.2
"""No cut is tried in this share of a group's width at either end."""

CRUMB_SHARE = 0.15
"""After a cut, ink cut off from the rest and smaller than this share of the piece is dropped."""

CRUMB_MARGIN = 5
"""Side of the square around each crumb pixel whose faint ink is dropped with it (two pixels each way)."""

SPLIT_EVIDENCE = 1.75
"""How much surer (in `doubt`) a cut's less sure piece must be than the whole, for a group one tallest height wide.

Wider groups need SPLIT_WIDTH_WEIGHT less per tallest height of width,
narrower ones more. Chosen on 400 composed numbers and 400 isolated digits
of training writers, with a network that knows what is not a digit: from
2.25 to 1.75 the touching pairs read right went from 48.6% to 54.1%, with
numbers without touching digits and isolated digits read as one unchanged;
at 1.25 those fell (94.4% and 99.5%) for 57.4% of touching pairs.
"""

CLEAR_TOP = 0.9
"""Each piece of a kept cut reads as a digit with at least this top probability, however wide the whole.

A dash, an underline or a long scribble is wide for its own height, so the
width alone would let any cut through; their pieces read as no digit."""

SPLIT_WIDTH_WEIGHT = 2.0
"""How much less `doubt` evidence a split needs per tallest height of the group's width."""

SPLIT_ROUNDS = 3
"""Pieces of a split are examined again, at most this many times in all."""

PROBE_HEIGHT = 280
"""Pieces taller than this (the page's surface) are shrunk to it before cuts are tried on them."""

PROBE_PIXELS = 4 * PROBE_HEIGHT**2
"""Pieces with more pixels than this are shrunk to it before cuts are tried on them."""

ROUND_CUT_PIXELS = 8_000_000
"""Pixels read by all the cuts of one splitting round together, about; more, and the pieces are shrunk.

A group up to about 480 px wide on the page's 280 px surface, two touching
digits, stays below it; it bounds what a huge squiggle drawn with a
one-pixel pen can cost."""

DOUBT_FLOOR = 1e-7
"""Keeps `doubt` finite when float32 rounds the top probability to 1."""


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

    def split_at(self, column):
        """Return the pieces left and right of a column (relative to the piece)."""
        return (_Piece(self.top, self.left, self.ink[:, :column],
                       self.mask[:, :column]).without_crumbs(),
                _Piece(self.top, self.left + column, self.ink[:, column:],
                       self.mask[:, column:]).without_crumbs())

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


def doubt(prediction):
    """Return how unsure the network is of each reading: log10 of one minus its top probability.

    prediction : a model.Prediction for n fields
    Returns ndarray of shape (n,), float64, at most 0; lower is surer. The
    top probability itself saturates near 1 for wholes and pieces alike; the
    remainder still tells them apart. What the network says is not a digit
    is as doubtful as can be (0): a whole that is no digit is cut more
    readily, and a piece that is no digit never stands.
    """
    top = prediction.probabilities.max(axis=1).astype(np.float64)
    return np.where(prediction.is_digit, np.log10(np.maximum(1 - top, DOUBT_FLOOR)), 0.0)


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
    pieces = _split_touching(pieces, recognise, tallest, pen, max_digits)
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


def _cut_columns(piece, pen):
    """Return the columns tried as cut points: every CUT_STEP pen widths across the middle of the piece."""
    first = int(np.ceil(max(MIN_PIECE_WIDTH * pen, CUT_BAND * piece.width)))
    last = int(min(piece.width - MIN_PIECE_WIDTH * pen, (1 - CUT_BAND) * piece.width))
    return list(range(first, last + 1, max(1, int(CUT_STEP * pen))))


def _probe_scales(pieces, pen):
    """Return the scale each piece's cuts are tried at: each large piece shrunk, then all within ROUND_CUT_PIXELS.

    The cuts of a piece read its whole ink about once each, so a round
    costs about the sum of cuts times pixels; shrinking keeps where the cuts
    fall relative to the pen and costs the square of the scale.
    """
    scales = np.array([_probe_scale(piece) for piece in pieces])
    cost = sum(len(_cut_columns(piece, pen)) * piece.ink.size * scale**2
               for piece, scale in zip(pieces, scales))
    return scales * min(1.0, float(np.sqrt(ROUND_CUT_PIXELS / max(cost, 1))))


def _split_touching(pieces, recognise, tallest, pen, max_digits):
    """Split wide pieces where two pieces read clearly surer than one; repeat on the halves.

    A cut is scored by its less sure piece, and the best cut is kept when
    it beats the whole by SPLIT_EVIDENCE, weighed with the width, and both
    pieces read as digits with CLEAR_TOP. The wholes
    are read first, in one call: a whole so sure that no cut could beat it
    (the pieces' doubt cannot go below DOUBT_FLOOR) is kept without cutting,
    which spares most single digits the cost; so is a texture. Every
    candidate piece of a round is then read in one call, cut from copies of
    the pieces shrunk to PROBE_PIXELS and, together, to ROUND_CUT_PIXELS.
    """
    final = []
    pending = pieces
    for _ in range(SPLIT_ROUNDS):
        if len(final) + len(pending) > max_digits:
            raise too_many(len(final) + len(pending), max_digits)
        is_wide = [piece.width >= SPLIT_WIDTH * tallest and not piece.whole for piece in pending]
        wide = [piece for piece, wide in zip(pending, is_wide) if wide]
        final.extend(piece for piece, wide in zip(pending, is_wide) if not wide)
        if not wide:
            return final
        wide = [piece._replace(field=_field(piece)) for piece in wide]
        wholes = doubt(recognise(np.stack([piece.field for piece in wide])))
        widths = np.array([piece.width for piece in wide]) / tallest
        bars = np.minimum(wholes + SPLIT_WIDTH_WEIGHT * (widths - 1) - SPLIT_EVIDENCE,
                          np.log10(1 - CLEAR_TOP))
        hopeful = bars > np.log10(DOUBT_FLOOR)
        hopeful &= [not _is_texture(piece) if keep else False for piece, keep in zip(wide, hopeful)]
        final.extend(piece for piece, keep in zip(wide, hopeful) if not keep)
        wide, bars = [piece for piece, keep in zip(wide, hopeful) if keep], bars[hopeful]
        scales = _probe_scales(wide, pen)
        cuts = [_tried_cuts(piece, pen, scale) for piece, scale in zip(wide, scales)]
        fields = [field for piece_cuts in cuts for _, pair in piece_cuts for field in pair]
        if not fields:
            return final + wide
        cut_doubts = doubt(recognise(np.stack(fields))).reshape(-1, 2).max(axis=1)
        pending = []
        start = 0
        for piece, bar, piece_cuts in zip(wide, bars, cuts):
            tried = cut_doubts[start:start + len(piece_cuts)]
            start += len(piece_cuts)
            if len(piece_cuts) and tried.min() < bar:
                pending.extend(piece.split_at(piece_cuts[int(tried.argmin())][0]))
            else:
                final.append(piece)
    return final + pending


def _tried_cuts(piece, pen, scale):
    """Return [(column, (left field, right field))] for each cut tried on the piece, columns in its own pixels.

    The cuts are tried on the piece shrunk by `scale`; only the fields of
    the halves are kept, so a round holds no more than its fields at once.
    """
    probe = _probe(piece, scale)
    tried = []
    for column in _cut_columns(probe, pen * scale):
        left, right = probe.split_at(column)
        at = column if scale == 1 else int(np.clip(round((probe.left + column) / scale), 1, piece.width - 1))
        tried.append((at, (digit_field(left.ink), digit_field(right.ink))))
    return tried
