"""Find the marks of a drawing and group them into digits, at a cost linear in its pixels.

A mark is connected ink above the stroke level. Specks far smaller than
a pen dot are noise and dropped; marks whose columns overlap are parts of
one digit (a 5's detached bar, a 4 in two strokes, a broken stroke); a
small group (a dot, a short bar) joins the nearest digit when it is close.
`model.segment` then cuts each group's ink out and splits touching digits.

A drawing of noise, a dot grid or hatching holds hundreds of thousands of
marks: every step here is one pass over the pixels or a sort of the marks,
no structure is built over pairs of marks beyond MAX_PAIRED_MARKS, and
too many groups of digit height are refused before anything is made per group.
"""

import numpy as np
from scipy import ndimage

from model.preprocess import InputImageError, stroke_width

EIGHT_NEIGHBOURS = np.ones((3, 3), dtype=bool)
"""Ink pixels touching by a corner belong to the same mark."""

SPECK_AREA = 0.25
"""Marks smaller than this many squared pen widths are noise (a pen dot is about 0.8)."""

PEN_MARK_SHARE = 0.02
"""Marks with fewer pixels than this share of the largest mark's are left out of the pen's width.

Thousands of one-pixel specks would otherwise measure the pen as one
pixel wide, and then none of them would count as a speck."""

MAX_PAIRED_MARKS = 256
"""Up to this many marks are compared pairwise for merging; more are grouped by blank columns alone.

A number of twelve digits has a few dozen marks; hundreds come only from
noise, dot grids or hatching, where pairs would cost memory by the gigabyte."""

MERGE_OVERLAP = 0.5
"""Marks whose column ranges overlap by this share of the narrower one are one digit."""

FRAGMENT_HEIGHT = 0.4
"""A group shorter than this share of the tallest is a fragment (a dot, a detached bar)."""

BAND_ROWS = 256
"""Rows of the image whose ink pixels' coordinates are held at once while the marks are measured."""

ATTACH_GAP = 0.3
"""A fragment joins the nearest digit whose box is within this share of the tallest height."""


class TooManyDigitsError(InputImageError):
    """The drawing holds more separate marks than the number reader accepts."""


def too_many(count, max_digits):
    """Return the error for a drawing of `count` marks or digits, over `max_digits`."""
    return TooManyDigitsError(
        f"the drawing holds {count} separate marks; at most {max_digits} digits are read"
    )


def find_marks(mask):
    """Label the connected ink; return (labels, boxes, sizes).

    boxes : ndarray of shape (n, 4), x0, y0, x1, y1 of each mark (ends exclusive)
    sizes : ndarray of shape (n,), each mark's pixel count
    One mark, the common drawing, is measured on the mask's projections.
    """
    labels, count = ndimage.label(mask, structure=EIGHT_NEIGHBOURS)
    if count == 1:
        rows, columns = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        box = (columns[0], rows[0], columns[-1] + 1, rows[-1] + 1)
        return labels, np.array([box], dtype=np.int32), np.array([np.count_nonzero(mask)])
    sizes = np.bincount(labels[mask], minlength=count + 1)[1:]
    if count <= MAX_PAIRED_MARKS:
        boxes = [(columns.start, rows.start, columns.stop, rows.stop)
                 for rows, columns in ndimage.find_objects(labels)]
        return labels, np.array(boxes, dtype=np.int32).reshape(count, 4), sizes
    return labels, _banded_spans(labels, count), sizes


def _banded_spans(labels, count):
    """Return the (count, 4) boxes of the labelled marks, visiting the ink in bands of BAND_ROWS rows.

    `ndimage.find_objects` makes Python objects for every mark, which takes
    seconds for the hundreds of thousands of a dot grid; this takes one pass,
    and the ink pixels' coordinates never take more memory than a band's.
    """
    boxes = _no_spans(count)
    for top in range(0, labels.shape[0], BAND_ROWS):
        band = labels[top : top + BAND_ROWS]
        rows, columns = np.nonzero(band)
        mark = band[rows, columns] - 1
        rows += top
        _widen(boxes, mark, columns, rows, columns + 1, rows + 1)
    return boxes


def _no_spans(count):
    """Return (count, 4) boxes that any point widens: x0, y0 at the largest integer, x1, y1 at the smallest."""
    boxes = np.empty((count, 4), dtype=np.int32)
    boxes[:, :2] = np.iinfo(np.int32).max
    boxes[:, 2:] = np.iinfo(np.int32).min
    return boxes


def _widen(boxes, index, x0, y0, x1, y1):
    """Widen each box boxes[index[i]] to hold the box x0[i], y0[i], x1[i], y1[i] (ends exclusive).

    The values take the boxes' type first: ufunc.at is twenty times slower when it must cast.
    """
    for column, (reduce, values) in enumerate(zip((np.minimum, np.minimum, np.maximum, np.maximum),
                                                  (x0, y0, x1, y1))):
        reduce.at(boxes[:, column], index, np.asarray(values, dtype=boxes.dtype))


def group_spans(boxes, group_of):
    """Return the (groups, 4) boxes of the marks' boxes (m, 4) joined by `group_of` (m,)."""
    spans = _no_spans(group_of.max() + 1)
    _widen(spans, group_of, *boxes.T)
    return spans


def pen_width(mask, labels, sizes):
    """Return the pen's width in pixels, measured on the marks that are not specks beside the largest."""
    small = sizes < PEN_MARK_SHARE * sizes.max()
    if small.any():
        mask = np.concatenate([[False], ~small])[labels]
    return max(stroke_width(mask), 1.0)


def group_marks(boxes, pen, max_digits):
    """Group the marks into digits; return (kept, group_of): the marks kept and each one's group.

    Specks are dropped; marks whose columns overlap are merged; then each
    fragment (a group much shorter than the tallest) joins the nearest
    other group if it is close enough. Groups are numbered in the order of
    their first mark (left to right past MAX_PAIRED_MARKS). More than
    `max_digits` groups of digit height are refused before anything is done
    per group.
    """
    widths = (boxes[:, 2] - boxes[:, 0]).astype(np.int64)
    areas = widths * (boxes[:, 3] - boxes[:, 1])
    kept = np.flatnonzero(areas >= SPECK_AREA * pen**2)
    if kept.size == 0:
        kept = np.array([np.argmax(areas)])
    group_of = _merge_overlapping(boxes[kept])
    return kept, _attach_fragments(group_spans(boxes[kept], group_of), group_of, max_digits)


def _merge_overlapping(spans):
    """Return the group of each mark (m,), marks whose columns overlap by MERGE_OVERLAP joined.

    spans : ndarray of shape (m, 4), the marks' boxes
    Past MAX_PAIRED_MARKS, marks are joined wherever their columns touch at all.
    """
    count = len(spans)
    if count == 1:
        return np.zeros(1, dtype=np.int64)
    if count > MAX_PAIRED_MARKS:
        order = np.argsort(spans[:, 0], kind="stable")
        reach = np.maximum.accumulate(spans[order, 2])
        starts = np.concatenate([[True], spans[order[1:], 0] >= reach[:-1]])
        group_of = np.empty(count, dtype=np.int64)
        group_of[order] = np.cumsum(starts) - 1
        return group_of
    widths = spans[:, 2] - spans[:, 0]
    overlap = (np.minimum(spans[:, None, 2], spans[None, :, 2])
               - np.maximum(spans[:, None, 0], spans[None, :, 0]))
    linked = overlap >= MERGE_OVERLAP * np.minimum(widths[:, None], widths[None, :])
    return np.unique(_lowest_linked(linked), return_inverse=True)[1]


def _lowest_linked(linked):
    """Return, for each node of a graph (m, m) bool with its diagonal set, the lowest node it is connected to.

    Each node takes the lowest label among its neighbours, then its label's
    label; the labels settle in about log2(m) rounds of O(m²).
    """
    lowest = np.arange(len(linked))
    while True:
        reached = np.where(linked, lowest[None, :], len(linked)).min(axis=1)
        reached = reached[reached]
        if (reached == lowest).all():
            return lowest
        lowest = reached


def _attach_fragments(spans, group_of, max_digits):
    """Join each fragment group to the nearest full-height group within ATTACH_GAP of the tallest.

    spans : ndarray of shape (groups, 4); group_of : ndarray of shape (marks,)
    Returns the new group of each mark. Raises TooManyDigitsError when the
    groups of digit height alone, which no fragment can join, are too many.
    """
    heights = spans[:, 3] - spans[:, 1]
    tallest = heights.max()
    is_fragment = heights < FRAGMENT_HEIGHT * tallest
    full, fragments = np.flatnonzero(~is_fragment), np.flatnonzero(is_fragment)
    if full.size > max_digits:
        raise too_many(full.size, max_digits)
    if fragments.size == 0:
        return group_of
    near, far = spans[fragments].astype(np.float64), spans[full].astype(np.float64)
    horizontal = np.maximum(0, np.maximum(near[:, None, 0] - far[None, :, 2],
                                          far[None, :, 0] - near[:, None, 2]))
    vertical = np.maximum(0, np.maximum(near[:, None, 1] - far[None, :, 3],
                                        far[None, :, 1] - near[:, None, 3]))
    gap = np.hypot(horizontal, vertical)
    nearest = gap.argmin(axis=1)
    joins = gap[np.arange(fragments.size), nearest] <= ATTACH_GAP * tallest
    if fragments.size - joins.sum() + full.size > max_digits:
        raise too_many(int(fragments.size - joins.sum() + full.size), max_digits)
    target = np.arange(len(spans))
    target[fragments[joins]] = full[nearest[joins]]
    survivors = np.unique(target)
    return np.searchsorted(survivors, target)[group_of]
