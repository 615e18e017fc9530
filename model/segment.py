"""Find the digits of a handwritten number: marks, merged parts, split touching digits.

A drawing is read in three steps, each decided on measurements of the
composed numbers of training writers (`python -m bench.numbers --in-process`):

1. Marks: connected ink above the stroke level. Specks far smaller than a
   pen dot are noise and ignored.
2. Merging: marks whose columns overlap are parts of one digit (a 5's
   detached bar, a 4 in two strokes, a broken stroke), and a small mark
   (a dot, a short bar) joins the nearest digit when it is close to it.
3. Splitting: a digit group wide for its height may hold touching or
   overlapping digits. Cuts are tried between its marks and at its
   thinnest columns; the network reads every candidate piece in one
   batched call, and a cut is kept only when both pieces read clearly
   better than the whole. Pieces are examined again, for chains of
   touching digits.

Everything is relative to the drawing's own scale (the tallest digit and
the pen width), so the same rules hold for the page's 280 px surface and
for any other upload size. Scoring goes through `doubt`, the one
place a non-digit score could later join the network's probabilities.
"""

from typing import NamedTuple

import numpy as np
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from model.preprocess import (
    INK_NOISE_LEVEL,
    STROKE_MASK_LEVEL,
    InputImageError,
    NoInkError,
    digit_field,
    stroke_width,
)

EIGHT_NEIGHBOURS = np.ones((3, 3), dtype=bool)
"""Ink pixels touching by a corner belong to the same mark."""

SPECK_AREA = 0.25
"""Marks smaller than this many squared pen widths are noise (a pen dot is about 0.8)."""

MERGE_OVERLAP = 0.5
"""Marks whose column ranges overlap by this share of the narrower one are one digit."""

FRAGMENT_HEIGHT = 0.4
"""A group shorter than this share of the tallest is a fragment (a dot, a detached bar)."""

ATTACH_GAP = 0.3
"""A fragment joins the nearest digit whose box is within this share of the tallest height."""

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

SPLIT_EVIDENCE = 2.25
"""How much surer (in `doubt`) a cut's less sure piece must be than the whole, for a group one tallest height wide.

Wider groups need SPLIT_WIDTH_WEIGHT less per tallest height of width,
narrower ones more. Chosen on training writers: it splits about half the
touching pairs and 0.2% of the isolated digits wide enough to be tried;
a lower bar splits more pairs but breaks the 99% length target on numbers
without touching digits (about 0.4% of wide single digits split at 1.75).
"""

SPLIT_WIDTH_WEIGHT = 2.0
"""How much less `doubt` evidence a split needs per tallest height of the group's width."""

SPLIT_ROUNDS = 3
"""Pieces of a split are examined again, at most this many times in all."""

DOUBT_FLOOR = 1e-7
"""Keeps `doubt` finite when float32 rounds the top probability to 1."""


class TooManyDigitsError(InputImageError):
    """The drawing holds more separate marks than the number reader accepts."""


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
            crumb_pixels = np.isin(labels, crumbs)
            if crumb_pixels.any():
                near_crumbs = ndimage.binary_dilation(crumb_pixels, structure=EIGHT_NEIGHBOURS,
                                                      iterations=2) & ~self.mask
                return _Piece(self.top, self.left, np.where(crumb_pixels | near_crumbs, 0,
                                                            self.ink).astype(np.float32),
                              self.mask & ~crumb_pixels).cropped()
        return self.cropped()


def doubt(probabilities):
    """Return how unsure the network is of each reading: log10 of one minus its top probability.

    probabilities : ndarray of shape (n, 10)
    Returns ndarray of shape (n,), float64, at most 0; lower is surer. The
    top probability itself saturates near 1 for wholes and pieces alike; the
    remainder still tells them apart.
    """
    top = probabilities.max(axis=1).astype(np.float64)
    return np.log10(np.maximum(1 - top, DOUBT_FLOOR))


def find_digits(ink, classify, max_digits):
    """Return the digits of a drawing as Regions in reading order, left to right.

    ink : ndarray of shape (height, width), float32 in [0, 1], from `ink_from_bytes`
    classify : function from fields of shape (n, 28, 28) to probabilities of shape (n, 10)
    Raises NoInkError for a blank drawing, TooManyDigitsError for more than
    `max_digits` separate marks.
    """
    if not (ink > INK_NOISE_LEVEL).any():
        raise NoInkError("no ink found: the image is blank, draw a digit first")
    mask = ink > STROKE_MASK_LEVEL
    if not mask.any():
        mask = ink > INK_NOISE_LEVEL
    labels, boxes = _marks(mask)
    pen = max(stroke_width(mask), 1.0)
    groups = _group_marks(boxes, pen)
    if len(groups) > max_digits:
        raise _too_many(len(groups), max_digits)
    tallest = max(_group_box(boxes, group)[4] for group in groups)
    pieces = [_group_piece(ink, labels, boxes, group) for group in groups]
    pieces = _split_touching(pieces, classify, tallest, pen)
    if len(pieces) > max_digits:
        raise _too_many(len(pieces), max_digits)
    pieces.sort(key=lambda piece: piece.left + piece.width / 2)
    return [Region(piece.box(), digit_field(piece.ink)) for piece in pieces]


def _too_many(count, max_digits):
    return TooManyDigitsError(
        f"the drawing holds {count} separate marks; at most {max_digits} digits are read"
    )


def _marks(mask):
    """Label the connected ink; return (labels, boxes) with boxes (n, 4) as x0, y0, x1, y1 (exclusive)."""
    labels, count = ndimage.label(mask, structure=EIGHT_NEIGHBOURS)
    boxes = np.array([(columns.start, rows.start, columns.stop, rows.stop)
                      for rows, columns in ndimage.find_objects(labels)], dtype=np.int64)
    return labels, boxes.reshape(count, 4)


def _group_box(boxes, group):
    """Return (x0, y0, x1, y1, height) of the union of the marks in `group` (indices into boxes)."""
    chosen = boxes[group]
    x0, y0 = chosen[:, :2].min(axis=0)
    x1, y1 = chosen[:, 2:].max(axis=0)
    return int(x0), int(y0), int(x1), int(y1), int(y1 - y0)


def _group_marks(boxes, pen):
    """Return the marks grouped into digits, as lists of mark indices.

    Specks are dropped; marks whose columns overlap are merged; then each
    fragment (a group much shorter than the tallest) joins the nearest
    other group if it is close enough.
    """
    widths = boxes[:, 2] - boxes[:, 0]
    areas = widths * (boxes[:, 3] - boxes[:, 1])
    kept = np.flatnonzero(areas >= SPECK_AREA * pen**2)
    if kept.size == 0:
        kept = np.array([np.argmax(areas)])
    spans = boxes[kept]
    overlap = (np.minimum(spans[:, None, 2], spans[None, :, 2])
               - np.maximum(spans[:, None, 0], spans[None, :, 0]))
    narrower = np.minimum(widths[kept][:, None], widths[kept][None, :])
    linked = overlap >= MERGE_OVERLAP * narrower
    _, group_of = connected_components(coo_matrix(linked), directed=False)
    groups = [kept[group_of == group].tolist() for group in range(group_of.max() + 1)]
    return _attach_fragments(groups, boxes)


def _attach_fragments(groups, boxes):
    """Join each fragment group to the nearest full-height group within ATTACH_GAP of the tallest."""
    spans = np.array([_group_box(boxes, group)[:4] for group in groups], dtype=np.float64)
    heights = spans[:, 3] - spans[:, 1]
    tallest = heights.max()
    is_fragment = heights < FRAGMENT_HEIGHT * tallest
    if not is_fragment.any() or is_fragment.all():
        return groups
    horizontal = np.maximum(0, np.maximum(spans[:, None, 0] - spans[None, :, 2],
                                          spans[None, :, 0] - spans[:, None, 2]))
    vertical = np.maximum(0, np.maximum(spans[:, None, 1] - spans[None, :, 3],
                                        spans[None, :, 1] - spans[:, None, 3]))
    gap = np.hypot(horizontal, vertical)
    gap[:, is_fragment] = np.inf
    nearest = gap.argmin(axis=1)
    joins = is_fragment & (gap[np.arange(len(groups)), nearest] <= ATTACH_GAP * tallest)
    merged = [list(group) for group in groups]
    for fragment in np.flatnonzero(joins):
        merged[nearest[fragment]].extend(groups[fragment])
    return [group for index, group in enumerate(merged) if not joins[index]]


def _group_piece(ink, labels, boxes, group):
    """Return the group's ink: its box of the drawing, other marks' pixels zeroed."""
    x0, y0, x1, y1, _ = _group_box(boxes, group)
    window = labels[y0:y1, x0:x1]
    own = np.isin(window, np.asarray(group) + 1)
    return _Piece(y0, x0, np.where(own | (window == 0), ink[y0:y1, x0:x1], 0).astype(np.float32),
                  own)


def _cut_columns(piece, pen):
    """Return the columns tried as cut points: every CUT_STEP pen widths across the middle of the piece."""
    first = int(np.ceil(max(MIN_PIECE_WIDTH * pen, CUT_BAND * piece.width)))
    last = int(min(piece.width - MIN_PIECE_WIDTH * pen, (1 - CUT_BAND) * piece.width))
    return list(range(first, last + 1, max(1, int(CUT_STEP * pen))))


def _split_touching(pieces, classify, tallest, pen):
    """Split wide pieces where two pieces read clearly surer than one; repeat on the halves.

    A cut is scored by its less sure piece, and the best cut is kept when
    it beats the whole by SPLIT_EVIDENCE, weighed with the width. The wholes
    are read first, in one call: a whole so sure that no cut could beat it
    (the pieces' doubt cannot go below DOUBT_FLOOR) is kept without cutting,
    which spares most single digits the cost. Every candidate piece of a
    round is then read in one call.
    """
    final = []
    pending = pieces
    for _ in range(SPLIT_ROUNDS):
        wide = [piece for piece in pending if piece.width >= SPLIT_WIDTH * tallest]
        final.extend(piece for piece in pending if piece.width < SPLIT_WIDTH * tallest)
        if not wide:
            return final
        wholes = doubt(classify(np.stack([digit_field(piece.ink) for piece in wide])))
        widths = np.array([piece.width for piece in wide]) / tallest
        bars = wholes + SPLIT_WIDTH_WEIGHT * (widths - 1) - SPLIT_EVIDENCE
        hopeful = bars > np.log10(DOUBT_FLOOR)
        final.extend(piece for piece, keep in zip(wide, hopeful) if not keep)
        wide, bars = [piece for piece, keep in zip(wide, hopeful) if keep], bars[hopeful]
        candidates = [[piece.split_at(column) for column in _cut_columns(piece, pen)]
                      for piece in wide]
        halves = [half.ink for splits in candidates for pair in splits for half in pair]
        if not halves:
            return final + wide
        cut_doubts = doubt(classify(np.stack([digit_field(each) for each in halves])))
        cut_doubts = cut_doubts.reshape(-1, 2).max(axis=1)
        pending = []
        start = 0
        for piece, bar, splits in zip(wide, bars, candidates):
            tried = cut_doubts[start:start + len(splits)]
            start += len(splits)
            if len(splits) and tried.min() < bar:
                pending.extend(splits[int(tried.argmin())])
            else:
                final.append(piece)
    return final + pending
