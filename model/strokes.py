"""Find the digits of a number from its pen strokes: who lifts the pen between digits says where they part.

The image stays what the network reads; the strokes only say which ink
belongs together. A drawing is read in four steps:

1. Ink to strokes: every ink pixel goes to the stroke whose pen path is
   nearest. Strokes that do not explain the ink (from another drawing, or
   clipped away) make the reader give up: the caller cuts pixels instead.
2. Late strokes: a short stroke that lies over an earlier digit and not
   over the stroke before it (the bar of a 5 or the crossbar of a 7 added
   at the end, a dot) is moved to just after the stroke it lies over.
3. A path through the strokes in this order: a digit is a run of at most
   MAX_RUN consecutive strokes. Every candidate run is read in one batched
   call, and dynamic programming picks the runs whose readings cost least
   in all (`reading_cost`: how unsure the network is, whether it sees a
   digit at all, and a fixed price per digit, so that a 4 drawn in two
   strokes is one digit unless its strokes read clearly better apart). A
   run that two clear digits explain, read as one of them, pays more: a 1
   drawn against a 3 is not taken into the 3.
4. A chosen run that still reads badly and is wide (one stroke through two
   digits, written without lifting the pen) is cut by the pixel segmenter,
   and the cut is kept only when every piece clearly reads as a digit: a
   dash, an underline and a wide 7 stay one mark.

Work is linear in the strokes and the ink: at most MAX_RUN candidates a
stroke, each the size of its own box, and the pen paths are refused beyond
one point per pixel of the ink's box.
"""

import numpy as np
from scipy import ndimage

from model.preprocess import (
    INK_NOISE_LEVEL,
    STROKE_MASK_LEVEL,
    InputImageError,
    crop_box,
    digit_field,
    stroke_width,
)
from model.segment import CLEAR_TOP, Region, best_path, find_digits, reading_cost

MAX_RUN = 4
"""Most strokes one digit is drawn with (UNIPEN's digits take 1 to 3), a late stroke included."""

PATH_STEP = 1.0
"""Pen paths are followed in steps of at most this many pixels when matched with the ink."""

INK_REACH = 0.75
"""Ink within this many pen widths (plus PIXEL_SLACK) of a pen path is explained by it."""

PIXEL_SLACK = 2.0
"""Pixels of rounding and anti-aliasing allowed around the pen, on top of INK_REACH."""

UNEXPLAINED_INK = 0.05
"""Share of the ink (by intensity) allowed beyond the reach of every stroke before the strokes are ignored."""

PATH_OFF_INK = 0.1
"""Share of the pen paths' points allowed off the ink before the strokes are ignored."""

LATE_OVERLAP = 0.5
"""A late stroke lies over an earlier stroke when this share of its columns are within that stroke's."""

LATE_HEIGHT = 0.5
"""Only strokes shorter than this share of the tallest stroke can be late (bars, crossbars, dots)."""

LATE_LOOKBACK = 8
"""A late stroke joins one of at most this many strokes before it."""

SHARE_RANGE = (-1.0, 1.0)
SHIFT_RANGE = (-1.0, 2.0)
"""The column share and the shift are clipped to these ranges, as they were for the fit."""

LAYOUT_WEIGHT = 2.0
"""How much the strokes' places weigh against the network's readings in a path's cost."""

HOPELESS_LAYOUT = 12.0
"""Runs of several strokes whose layout alone costs more than this are not read: no reading makes up for it.

A run read as a clear digit costs about one DIGIT_COST, one that reads as
no digit about NOT_DIGIT_COST more (`model.segment.reading_cost`), so a
layout cost this high is never on the best path unless its strokes read
far worse apart."""

SAME_DIGIT_ODDS = np.array([6.44, -5.26, -2.37])
"""Log-odds that a stroke belongs to the run before it: weights of (column share, shift, 1).

The column share is the overlap of their columns (pen included) over the
narrower; the shift is how far right of the run's median the stroke's
median lies, over the tallest stroke's height. A logistic regression fitted
on the strokes of composed numbers of training writers (touching pairs
weighed three times): it keeps 90% of strokes with their digit and parts
92% of touching neighbours.
"""

ABSORBED_DIGIT_COST = 1.5
"""Extra cost of a run read as one digit when it splits into two runs read as clear digits, one of them the same.

Measured on composed numbers of calibration writers, read with their
strokes: fitted to a 400-unit surface and drawn with the page's pen (400
numbers, seed 21), touching pairs read right 109 → 115 of 136 (114 at a
cost of 1.0, 115 at 2.5); seed 3, 112 of 136 either way; on the desktop's
933 units, 118 → 119; drawn as the benchmark draws them (600 numbers),
86.2% → 87.3%. Training writers: 90.5% → 92.1%. Numbers without touching
digits and isolated digits read as one did not move in any of them.
A cost of 5 read more touching pairs of the same writers (119 and 116 of
136 at 400 units, 123 at 933) but, measured on the page, split 7s drawn
in two strokes (one of them a clear 1) into "17"."""

WEAK_TOP = 0.9
"""A chosen run read with a lower top probability, or as not a digit, may be one stroke through two digits."""

CUT_WIDTH = 0.8
"""Only runs at least this wide, as a share of the tallest run's height, are cut by pixels."""

CUT_POINTS = 16
"""Points along a stroke at which it is tried cut in two."""

CUT_MARGIN = 0.15
"""No cut is tried in this share of a stroke's path at either end."""


def find_digits_by_strokes(ink, strokes, recognise, max_digits):
    """Return the digits of a drawing as Regions in reading order, or None when the strokes cannot say.

    ink : ndarray of shape (height, width), float32 in [0, 1], from `ink_from_bytes`
    strokes : list of ndarrays of shape (k, 2), float: (x, y) in pixels of the image, in drawing order
    recognise : the model's `recognise`, fields (n, 28, 28) to a Prediction
    None means: no ink, too many strokes for `max_digits` digits, or strokes
    that do not match the ink; the caller then segments the pixels.
    """
    if not strokes or -(-len(strokes) // MAX_RUN) > max_digits:
        return None
    visible = ink > INK_NOISE_LEVEL
    if not visible.any():
        return None
    left, top, width, height = crop_box(ink)
    window = ink[top:top + height, left:left + width]
    paths = _dense_paths(strokes, left, top, width, height)
    if paths is None:
        return None
    mask = window > STROKE_MASK_LEVEL
    pen = max(stroke_width(mask if mask.any() else window > INK_NOISE_LEVEL), 1.0)
    owners = _owners(window, paths, pen)
    if owners is None:
        return None
    owner, when = owners
    boxes = np.array([_path_box(path, pen, width, height) for path in paths])
    order = _with_late_strokes_moved(boxes)
    candidates = [(start, stop) for start in range(len(order))
                  for stop in range(start + 1, min(start + MAX_RUN, len(order)) + 1)]
    layout = _layout_costs(boxes, paths, order, candidates)
    plausible = [index for index, (start, stop) in enumerate(candidates)
                 if stop - start == 1 or layout[index] <= HOPELESS_LAYOUT]
    candidates = [candidates[index] for index in plausible]
    pieces = [_run_piece(window, owner, boxes, order[start:stop]) for start, stop in candidates]
    prediction = recognise(np.stack([digit_field(piece[1]) for piece in pieces]))
    costs = reading_cost(prediction) + layout[plausible] + _absorbed_digit_costs(candidates, prediction)
    chosen = best_path(len(order), candidates, costs)
    if len(chosen) > max_digits:
        return None
    runs = [order[candidates[index][0]:candidates[index][1]] for index in chosen]
    regions = _cut_weak_runs([pieces[index] for index in chosen], runs, prediction, chosen,
                             (window, owner, when, boxes), recognise, max_digits)
    if len(regions) > max_digits:
        return None
    regions = [Region((box[0] + left, box[1] + top, box[2], box[3]), field) for box, field in regions]
    return sorted(regions, key=lambda region: region.box[0] + region.box[2] / 2)


def _absorbed_digit_costs(candidates, prediction):
    """Return what each candidate run pays for reading as one digit a run that two clear digits explain.

    candidates : list of (start, stop) runs; prediction : their readings, in the same order
    A run pays ABSORBED_DIGIT_COST when it splits, in drawing order, into two
    runs that each read as a clear digit, and it reads as one of those two:
    the other digit's strokes add nothing to its reading (a 1 drawn against
    a 3 reads as the 3). A digit's own extra strokes (a bar, a crossbar, a
    flag) do not read as a digit alone, so they never make their digit pay.
    """
    digit = prediction.probabilities.argmax(axis=1)
    clear = prediction.is_digit & (prediction.probabilities.max(axis=1) >= CLEAR_TOP)
    index_of = {run: index for index, run in enumerate(candidates)}
    costs = np.zeros(len(candidates))
    for index, (start, stop) in enumerate(candidates):
        for middle in range(start + 1, stop):
            first, second = index_of.get((start, middle)), index_of.get((middle, stop))
            if (first is not None and second is not None and clear[first] and clear[second]
                    and digit[index] in (digit[first], digit[second])):
                costs[index] = ABSORBED_DIGIT_COST
                break
    return costs


def _layout_costs(boxes, paths, order, candidates):
    """Return what the strokes' places cost each candidate run: joining apart strokes, parting close ones.

    Each stroke of a run after the first pays minus the log of the odds that
    it belongs with the run's strokes before it; a run that ends before the
    last stroke pays minus the log of the odds that the next stroke does not.
    """
    tallest = max(float((boxes[:, 3] - boxes[:, 1]).max()), 1.0)
    costs = np.zeros(len(candidates))
    for index, (start, stop) in enumerate(candidates):
        for stroke in range(start + 1, min(stop + 1, len(order))):
            odds = _same_digit_odds(boxes, paths, order[start:stroke], order[stroke], tallest)
            costs[index] += np.logaddexp(0, -odds if stroke < stop else odds)
    return costs


def _same_digit_odds(boxes, paths, run, stroke, tallest):
    """Return the log-odds that `stroke` belongs to the digit of the strokes in `run`."""
    union = (boxes[run, 0].min(), 0, boxes[run, 2].max(), 0)
    run_middle = np.median(np.concatenate([paths[each][:, 0] for each in run]))
    shift = (np.median(paths[stroke][:, 0]) - run_middle) / tallest
    share = min(max(_column_share(boxes[stroke], union), SHARE_RANGE[0]), SHARE_RANGE[1])
    shift = min(max(shift, SHIFT_RANGE[0]), SHIFT_RANGE[1])
    weights = SAME_DIGIT_ODDS
    return LAYOUT_WEIGHT * float(weights[0] * share + weights[1] * shift + weights[2])


def _dense_paths(strokes, left, top, width, height):
    """Return each stroke's path clipped to the ink's box, in steps of PATH_STEP, as (m, 2) float arrays.

    Coordinates are relative to the box. None when the paths together are
    longer than the box has pixels: no drawing of digits needs that much.
    """
    limit = np.array([width - 1, height - 1], dtype=np.float64)
    clipped = [np.clip(np.asarray(stroke, dtype=np.float64).reshape(-1, 2) - (left, top), 0, limit)
               for stroke in strokes]
    steps = [np.ceil(np.hypot(*np.diff(points, axis=0).T) / PATH_STEP).astype(np.int64)
             for points in clipped]
    if sum(int(each.sum()) for each in steps) > width * height:
        return None
    return [_resampled(points, counts) for points, counts in zip(clipped, steps)]


def _resampled(points, counts):
    """Return the polyline through `points` with `counts[i]` steps on segment i, shape (m, 2)."""
    if counts.size == 0:
        return points
    segment = np.repeat(np.arange(counts.size), counts)
    start = np.concatenate(([0], np.cumsum(counts)[:-1]))
    fraction = (np.arange(counts.sum()) - np.repeat(start, counts) + 1) / np.repeat(counts, counts)
    between = points[segment] + fraction[:, None] * (points[segment + 1] - points[segment])
    return np.concatenate((points[:1], between))


def _owners(window, paths, pen):
    """Return (owner, when) of each pixel's ink from the nearest pen path, or None on a mismatch.

    window : ndarray of shape (height, width), the ink's box
    owner : ndarray of shape (height, width), int: the stroke, 1-based; 0 where there is no ink
    when : ndarray of shape (height, width), int: the index of the nearest point along that stroke's path
    """
    height, width = window.shape
    traced = np.zeros((height, width), dtype=np.int32)
    traced_when = np.zeros((height, width), dtype=np.int32)
    on_ink = 0
    for number, path in enumerate(paths, start=1):
        columns, rows = np.rint(path).astype(np.int64).T
        traced[rows, columns] = number
        traced_when[rows, columns] = np.arange(len(path))
        on_ink += np.count_nonzero(window[rows, columns] > INK_NOISE_LEVEL)
    if on_ink < (1 - PATH_OFF_INK) * sum(len(path) for path in paths):
        return None
    distance, (rows, columns) = ndimage.distance_transform_cdt(traced == 0, metric="chessboard",
                                                              return_indices=True)
    visible = window > INK_NOISE_LEVEL
    far = visible & (distance > INK_REACH * pen + PIXEL_SLACK)
    if window[far].sum() > UNEXPLAINED_INK * window[visible].sum():
        return None
    return np.where(visible, traced[rows, columns], 0), traced_when[rows, columns]


def _path_box(path, pen, width, height):
    """Return (x0, y0, x1, y1) of a path widened by half the pen, inside the window, x1 and y1 exclusive."""
    low = np.maximum(np.floor(path.min(axis=0) - pen / 2), 0).astype(int)
    high = np.minimum(np.ceil(path.max(axis=0) + pen / 2) + 1, (width, height)).astype(int)
    return int(low[0]), int(low[1]), int(high[0]), int(high[1])


def _column_share(box, other):
    """Return the overlap of two boxes' columns as a share of the narrower; negative for a gap."""
    overlap = min(box[2], other[2]) - max(box[0], other[0])
    return overlap / max(min(box[2] - box[0], other[2] - other[0]), 1)


def _with_late_strokes_moved(boxes):
    """Return the strokes' order with each late stroke moved to just after the stroke it lies over.

    boxes : ndarray of shape (n, 4), each stroke's (x0, y0, x1, y1)
    """
    heights = boxes[:, 3] - boxes[:, 1]
    order = list(range(len(boxes)))
    for stroke in range(2, len(boxes)):
        if (heights[stroke] >= LATE_HEIGHT * heights.max()
                or _column_share(boxes[stroke], boxes[stroke - 1]) >= LATE_OVERLAP):
            continue
        earlier = range(max(stroke - LATE_LOOKBACK, 0), stroke - 1)
        shares = [_column_share(boxes[stroke], boxes[other]) for other in earlier]
        if max(shares) >= LATE_OVERLAP:
            host = earlier[int(np.argmax(shares))]
            order.remove(stroke)
            order.insert(order.index(host) + 1, stroke)
    return order


def _run_piece(window, owner, boxes, strokes):
    """Return ((x, y, width, height), ink) of a run of strokes: its box of the window, other ink zeroed."""
    chosen = boxes[strokes]
    x0, y0 = chosen[:, :2].min(axis=0)
    x1, y1 = chosen[:, 2:].max(axis=0)
    own = np.isin(owner[y0:y1, x0:x1], np.asarray(strokes) + 1)
    ink = np.where(own, window[y0:y1, x0:x1], 0).astype(np.float32)
    if not (ink > INK_NOISE_LEVEL).any():
        return (int(x0), int(y0), int(x1 - x0), int(y1 - y0)), window[y0:y1, x0:x1]
    x, y, width, height = crop_box(ink)
    return (int(x0) + x, int(y0) + y, width, height), ink[y:y + height, x:x + width]


def _cut_weak_runs(pieces, runs, prediction, chosen, drawing, recognise, max_digits):
    """Return (box, field) for each chosen run, cutting those that read badly and are wide.

    A run of one stroke is cut along its pen path (written without lifting
    the pen), any other by the pixel segmenter. A cut stands only when every
    piece reads as a digit with CLEAR_TOP (and, along a path, when its pieces
    together cost less than the whole read as one digit).
    """
    tallest = max(box[3] for box, _ in pieces)
    top = prediction.probabilities[chosen].max(axis=1)
    weak = (top < WEAK_TOP) | ~prediction.is_digit[chosen]
    whole_costs = reading_cost(prediction)[chosen]
    regions = []
    for (box, ink), run, is_weak, whole_cost in zip(pieces, runs, weak, whole_costs):
        cut = None
        if is_weak and box[2] >= CUT_WIDTH * tallest:
            cut = (_cut_along_path(drawing, run[0], recognise, whole_cost) if len(run) == 1
                   else _cut_by_pixels(ink, box, recognise, max_digits))
        regions.extend([(box, digit_field(ink))] if cut is None else cut)
    return regions


def _cut_along_path(drawing, stroke, recognise, whole_cost):
    """Return [(box, field)] of one stroke cut in two along its path, or None unless both pieces are clearly digits.

    whole_cost : the `reading_cost` of the stroke read as one digit, which the
    two pieces' costs together must beat.

    Each ink pixel goes with the piece of the path nearest it: the part
    drawn before the cut point or the part after. CUT_POINTS cut points,
    evenly spaced in the middle of the path, are read in one batched call.
    """
    window, owner, when, boxes = drawing
    x0, y0, x1, y1 = boxes[stroke]
    own = owner[y0:y1, x0:x1] == stroke + 1
    order = when[y0:y1, x0:x1]
    ink = np.where(own, window[y0:y1, x0:x1], 0).astype(np.float32)
    length = int(order[own].max()) + 1 if own.any() else 0
    points = np.unique(np.linspace(CUT_MARGIN * length, (1 - CUT_MARGIN) * length, CUT_POINTS).astype(int))
    pairs = []
    for point in points:
        before = order < point
        pair = [np.where(part, ink, 0).astype(np.float32) for part in (before, ~before)]
        if all((piece > INK_NOISE_LEVEL).any() for piece in pair):
            pairs.append(pair)
    if not pairs:
        return None
    halves = [piece for pair in pairs for piece in pair]
    fields = np.stack([digit_field(piece) for piece in halves])
    prediction = recognise(fields)
    clear = (prediction.is_digit & (prediction.probabilities.max(axis=1) >= CLEAR_TOP)).reshape(-1, 2)
    costs = reading_cost(prediction).reshape(-1, 2).sum(axis=1)
    costs[~clear.all(axis=1) | (costs >= whole_cost)] = np.inf
    best = int(costs.argmin())
    if not np.isfinite(costs[best]):
        return None
    cut = []
    for piece, field in zip(halves[2 * best:2 * best + 2], fields[2 * best:2 * best + 2]):
        x, y, width, height = crop_box(piece)
        cut.append(((int(x0) + x, int(y0) + y, width, height), field))
    return cut


def _cut_by_pixels(ink, box, recognise, max_digits):
    """Return [(box, field)] of a run cut by the pixel segmenter, or None unless every piece is clearly a digit."""
    try:
        found = find_digits(ink, recognise, max_digits)
    except InputImageError:
        return None
    if len(found) < 2:
        return None
    prediction = recognise(np.stack([region.field for region in found]))
    clear = prediction.is_digit & (prediction.probabilities.max(axis=1) >= CLEAR_TOP)
    if not clear.all():
        return None
    return [((box[0] + x, box[1] + y, width, height), region.field)
            for (x, y, width, height), region in ((region.box, region) for region in found)]
