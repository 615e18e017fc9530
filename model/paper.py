"""Separate ink from paper in a picture without transparency: a photo, a scan or a flat drawing.

Paper in a photo is not one colour: the light falls unevenly, a shadow
darkens part of it, its grain and the camera's noise speckle it, and ruled
paper carries faint lines. Reading the picture's darkness as ink, as one
would a canvas, turns all of that into grey ink. `separate_ink` takes the
usual route of document binarisation instead:

1. Signal: how dark each pixel is in the channel where ink stands out most
   (the darkest channel, so blue ink is as dark as black). A photo or a
   scan is taken to be dark ink on lighter paper, however dim the light or
   deep the shadow at its border; only a flat picture (a canvas, a clean
   export) may be light ink on a dark ground, told by its border.
2. Background: the paper's brightness everywhere, estimated on a small copy
   by a grey closing wider than any stroke (it fills the ink in with the
   paper around it) and divided out: shading and shadows multiply the
   light, so the ratio to the local paper is the ink's contrast.
3. Noise: a picture most of whose pixels are at exactly one level (a
   canvas, a clean export) has no grain or shading: its ink is its contrast to the
   border's paper level, as drawn, and nothing else is done. Otherwise the
   contrast is smoothed a little and the paper's spread is measured
   robustly (median and MAD, paper being most pixels).
4. Ruled lines: long straight marks across most of the picture, all
   parallel, found by projecting the candidate ink along a range of angles;
   their own level along their length is taken off, so ink crossing them
   stays and the lines go.
5. Threshold with hysteresis: ink is contrast well above the paper's
   noise, connected to contrast that is far above it (faint pencil joined
   to its darker parts is kept; grain and dust are not), in marks large
   enough to be written and clear of the picture's edge.

Work is done on a copy at most `WORKING_SIDE` pixels long, and the ink is
scaled back to the picture's size, so the cost is linear in the picture.
"""

import numpy as np
from PIL import Image
from scipy import ndimage

from model.constants import MAX_INTENSITY

WORKING_SIDE = 1024
"""Longer side of the copy the paper is removed on: far more detail than 28×28 needs."""

BACKGROUND_SIDE = 128
"""Longer side of the small copy the paper's brightness is estimated on."""

BACKGROUND_WINDOW = 0.25
"""Width of the closing that fills ink in with paper, as a share of the picture's shorter side.

Wider than the thickest stroke of a digit that fills the picture (a marker,
or the page's thickest pen, is a tenth of the digit's height), narrow
enough to follow a shadow's edge."""

DARK_INK_PAPER = 0.5
"""A flat picture whose border is brighter than this is dark ink on light paper."""

PAPER_SHARE = 0.2
"""Share of a flat picture's pixels at exactly its paper's level: a bold number drawn on a canvas still leaves
about 40% of it blank; a photo's grain and compression leave a few percent at any one level."""

SMOOTHING_SIGMA = 1.0
"""Gaussian smoothing of a noisy picture's contrast, in working pixels: grain is finer than strokes."""

MAD_TO_SIGMA = 1.4826
"""Scales a median absolute deviation to the standard deviation of normal noise."""

LOW_SIGMAS = 3.0
"""Contrast this many noise deviations above the paper's may be ink, if joined to sure ink."""

HIGH_SIGMAS = 8.0
"""Contrast this many noise deviations above the paper's is surely ink."""

MIN_INK_CONTRAST = 0.12
"""Sure ink is at least this much darker than its paper: a light pencil is about 0.25."""

MIN_MARK_AREA = 2e-4
"""Marks smaller than this share of the picture are dust or grain, not writing."""

INK_PEAK_PERCENTILE = 99
"""The ink's full strength is this percentile of its contrast: one dark speck does not set it."""

LINE_COVER = 0.7
"""A straight run of candidate ink covering this share of the picture's width is a ruled line.

A written digit, even a long bar of a 7, covers far less of a photo of a page."""

MAX_LINE_TILT = 10.0
"""Steepest ruled line looked for, in degrees from the horizontal (or the vertical)."""

LINE_SEARCH_SIDE = 256
"""Longer side of the copy on which the lines' angle is searched."""

MIN_LINE_SEARCH_SIDE = 8
"""A strip narrower than this on the search copy has no ruled lines to find."""

LINE_FRINGE = 0.3
"""Rows beside a ruled line covered this much belong to it (its blurred edges)."""

SIXTEEN_BIT_MAX = 65535
"""Full scale of 16-bit greyscale images."""

GREY_MODES = frozenset({"1", "L", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
"""Pillow modes with one channel of grey levels."""

EPSILON = 1e-6


def separate_ink(image):
    """Return how much ink covers each pixel of an opaque picture, shape (height, width), float32 in [0, 1].

    image : a decoded Pillow image without varying alpha
    A flat picture's ink is its contrast, as drawn, in either polarity; a
    noisy one (a photo, a scan) is dark ink on paper, thresholded and
    scaled so that its strong ink is 1.
    """
    width, height = image.size
    darkest, lightest = _working_channels(image)
    if _is_flat(darkest):
        ink = _flat_contrast(darkest, lightest)
    else:
        ink = _ink_of_noisy(_contrast(darkest, _background(darkest)))
    if ink.shape != (height, width):
        resized = Image.fromarray(ink, mode="F").resize((width, height), Image.Resampling.BILINEAR)
        ink = np.clip(np.asarray(resized, dtype=np.float32), 0, 1)
    return ink


def _working_channels(image):
    """Return the darkest and the lightest channel of the working copy, each (h, w), float32 in [0, 1].

    Dark ink of any colour stands out most in the darkest channel (blue ink
    in red), light ink in the lightest. A grey picture gives its one channel twice.
    """
    factor = max(1, -(-max(image.size) // WORKING_SIDE))
    if image.mode not in GREY_MODES:
        image = image.convert("RGB")
    if image.mode == "RGB":
        channels = np.asarray(image.reduce(factor) if factor > 1 else image)
        return (channels.min(axis=2).astype(np.float32) / MAX_INTENSITY,
                channels.max(axis=2).astype(np.float32) / MAX_INTENSITY)
    grey = _grey_levels(image)
    if factor > 1:
        grey = np.asarray(Image.fromarray(grey, mode="F").reduce(factor), dtype=np.float32)
    return grey, grey


def _flat_contrast(darkest, lightest):
    """Return the contrast of a flat picture's ink to its paper, the border's level, in [0, 1].

    Light paper carries dark ink; dark paper (a black canvas, MNIST) light
    ink. Written as a difference, so that white or black paper gives the
    ink exactly as drawn.
    """
    paper = _border_median(darkest)
    if paper > DARK_INK_PAPER:
        contrast = (np.float32(paper) - darkest) / np.float32(paper)
    else:
        paper = _border_median(lightest)
        contrast = (lightest - np.float32(paper)) / np.float32(max(1 - paper, EPSILON))
    return np.clip(contrast, 0, 1, out=contrast)


def _grey_levels(image):
    """Return the grey levels of a single-channel image, float32 in [0, 1]."""
    if image.mode == "F":
        return np.clip(np.asarray(image, dtype=np.float32), 0, 1)
    if image.mode.startswith("I"):
        return np.clip(np.asarray(image, dtype=np.float32) / SIXTEEN_BIT_MAX, 0, 1)
    return np.asarray(image.convert("L"), dtype=np.float32) / MAX_INTENSITY


def _border_median(values):
    """Return the median of the outermost pixels: mostly paper, whatever the picture holds."""
    return float(np.median(np.concatenate([values[0], values[-1], values[:, 0], values[:, -1]])))


def _contrast(signal, background):
    """Return how much darker each pixel is than the paper under it, shape of `signal`, in [0, 1].

    signal : ndarray of shape (h, w), float32, paper bright
    background : the paper's brightness, a number or an array of the same shape
    """
    contrast = 1 - signal / np.maximum(background, EPSILON, dtype=np.float32)
    return np.clip(contrast, 0, 1, out=contrast)


def _background(signal):
    """Estimate the paper's brightness at every pixel, shape of `signal`, float32.

    A grey closing (a maximum, then a minimum filter) wider than the strokes
    replaces ink with the paper beside it and keeps the edges of shadows,
    which are wider than any stroke.
    """
    height, width = signal.shape
    scale = min(1.0, BACKGROUND_SIDE / max(height, width))
    small_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = np.asarray(
        Image.fromarray(signal, mode="F").resize(small_size, Image.Resampling.BOX), dtype=np.float32
    )
    window = max(3, round(BACKGROUND_WINDOW * min(small.shape)))
    closed = ndimage.grey_closing(small, size=(window, window), mode="nearest")
    if closed.shape == signal.shape:
        return closed
    image = Image.fromarray(closed, mode="F").resize((width, height), Image.Resampling.BILINEAR)
    return np.asarray(image, dtype=np.float32)


def _is_flat(signal):
    """Say whether the paper is flat: most pixels are at exactly the border's level, as on a canvas.

    Such a picture (a canvas, a clean export, an MNIST digit) keeps the ink
    it was drawn with: its contrast to that one paper level. Paper under a
    camera is never one level: grain, noise and shading spread it, and a
    compressed photo's flat 8×8 blocks each sit at a level of their own.
    """
    return float(np.mean(signal == _border_median(signal))) >= PAPER_SHARE


def _stretched(contrast, mask, floor):
    """Return the contrast above `floor` where `mask` holds, scaled so that the ink's peak is 1."""
    ink = np.where(mask, contrast - floor, 0).astype(np.float32)
    if not mask.any():
        return ink
    peak = float(np.percentile(ink[mask], INK_PEAK_PERCENTILE))
    if peak > EPSILON:
        ink /= peak
    return np.clip(ink, 0, 1, out=ink)


def _ink_of_noisy(contrast):
    """Return the ink of a picture with grain or noise: lines removed, thresholded with hysteresis."""
    contrast = ndimage.gaussian_filter(contrast, SMOOTHING_SIGMA)
    paper = float(np.median(contrast))
    spread = MAD_TO_SIGMA * float(np.median(np.abs(contrast - paper)))
    low = paper + LOW_SIGMAS * spread
    high = max(paper + HIGH_SIGMAS * spread, paper + MIN_INK_CONTRAST)
    contrast = _without_lines(contrast, contrast > low, high)
    contrast = _without_lines(contrast.T, contrast.T > low, high).T
    return _stretched(contrast, _hysteresis(contrast, low, high), low)


def _hysteresis(contrast, low, high):
    """Return the mask of marks above `low` that reach `high` somewhere, are large enough and stay inside.

    A mark that touches the picture's edge is dropped: writing is framed
    by the one who photographs it, while what the background estimate
    cannot follow (a shadow's corner cut by the frame, where the shadow is
    narrower than the estimate's window) lies against the edge.
    """
    marks, n_marks = ndimage.label(contrast > low)
    if n_marks == 0:
        return marks > 0
    area = np.bincount(marks.ravel(), minlength=n_marks + 1)
    keep = np.zeros(n_marks + 1, dtype=bool)
    keep[np.unique(marks[contrast > high])] = True
    keep &= area >= MIN_MARK_AREA * contrast.size
    keep[np.concatenate([marks[0], marks[-1], marks[:, 0], marks[:, -1]])] = False
    keep[0] = False
    return keep[marks]


def _without_lines(contrast, candidates, cap):
    """Return `contrast` with ruled lines (long, straight, near-horizontal marks) taken off.

    contrast : ndarray of shape (h, w), float32; candidates : bool mask of the same shape
    Each line's own level, the mean contrast along it (capped at `cap`, so
    ink crossing it barely counts), is subtracted from the pixels on it.
    """
    angle = _line_angle(candidates)
    if angle is None:
        return contrast
    rows, cover, count = _projection(candidates, angle)
    on_line = cover >= LINE_COVER
    on_line |= (cover >= LINE_FRINGE) & (np.convolve(on_line, [1, 1, 1], mode="same") > 0)
    if not on_line.any():
        return contrast
    level = np.bincount(rows.ravel(), np.minimum(contrast, cap).ravel(), minlength=count.size)
    level = np.where(on_line, level / np.maximum(count, 1), 0).astype(np.float32)
    contrast = contrast - level[rows]
    return np.clip(contrast, 0, 1, out=contrast)


def _line_angle(candidates):
    """Return the tilt (radians) of ruled lines across the picture, or None when it has none.

    Searched on a small copy (a pixel is a candidate there when any pixel it
    covers is), then refined on the full mask around the best angle.
    """
    height, width = candidates.shape
    factor = max(1, -(-max(height, width) // LINE_SEARCH_SIDE))
    h, w = height // factor, width // factor
    if min(h, w) < MIN_LINE_SEARCH_SIDE:
        return None
    small = candidates
    if factor > 1:
        small = candidates[: h * factor, : w * factor].reshape(h, factor, w, factor).any(axis=(1, 3))
    coarse = _best_angle(small, np.radians(MAX_LINE_TILT), 1 / max(small.shape[1], 1))
    if coarse is None or factor == 1:
        return coarse
    step = 1 / width
    return _best_angle(candidates, factor * step, step, centre=coarse)


def _best_angle(mask, half_range, step, centre=0.0):
    """Return the angle in centre ± half_range whose projection puts most pixels on line rows, or None."""
    best, best_score = None, 0
    for angle in np.arange(centre - half_range, centre + half_range + step / 2, step):
        _, cover, _ = _projection(mask, angle)
        score = float(cover[cover >= LINE_COVER].sum())
        if score > best_score:
            best, best_score = float(angle), score
    return best


def _projection(mask, angle):
    """Project a mask along lines tilted by `angle`: row index per pixel, cover per row, pixels per row.

    Returns (rows of shape (h, w), int; cover of shape (n,), the share of
    each tilted row that is in the mask; count of shape (n,), its pixels).
    """
    height, width = mask.shape
    shift = np.rint(np.arange(width) * np.tan(angle)).astype(np.int64)
    shift -= shift.min()
    rows = np.arange(height)[:, np.newaxis] + shift[np.newaxis, :]
    n_rows = height + int(shift.max()) + 1
    count = np.bincount(rows.ravel(), minlength=n_rows)
    inked = np.bincount(rows[mask], minlength=n_rows)
    cover = inked / np.maximum(count, 1)
    cover[count < LINE_COVER * width] = 0
    return rows, cover, count
