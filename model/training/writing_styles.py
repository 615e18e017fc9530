"""Ways of writing digits that MNIST lacks, drawn onto MNIST digits while training.

MNIST's writers were American: their 1 is a bare stroke and their 0 an
empty oval, and their 9 has a straight stem. Many people write a 1 with a
flag (a stroke down to the left from the top), a base or a foot that turns
right, a 0 with a slash through it, and a 9 whose stem ends in a hook to
the left. A network that never saw these reads a flagged 1 as a 7, a 1 with
a base as a 2, one with a foot as a 6, a slashed 0 as an 8 or a 9 and a
hooked 9 as a 3, confidently; on the development drawings these were the
largest groups of errors. So, for a random share of the 1s, 0s and 9s of
every minibatch, straight strokes are drawn onto the digit where a writer
would put them, as thick as the digit's own stroke, and the digit is moved
to keep its centre of mass at the centre, as MNIST's framing does.

Everything is vectorised over the selected images; all randomness comes
from the `np.random.Generator` passed in.
"""

from dataclasses import asdict, dataclass

import numpy as np

from model.constants import DTYPE, IMAGE_SIDE
from model.preprocess import MNIST_CENTRE
from model.training.augment import GRID_CENTRE, resample

INK_LEVEL = 0.3
"""A pixel at least this dark counts when finding a digit's extent."""

THINNEST_STROKE, THICKEST_STROKE = 1.5, 4.0
"""Bounds in pixels of the stroke width estimated from a digit's ink."""

LEFT, RIGHT = -1, 1
"""Signs of a horizontal direction in column coordinates."""


@dataclass(frozen=True)
class StyleParams:
    """How often each style is drawn and within what ranges (uniform) its shape varies.

    Lengths are fractions of the digit's height; angles are in degrees.

    flag_rate         : share of 1s that get a flag
    flag_length       : (low, high) length of the flag
    flag_angle        : (low, high) angle of the flag below the horizontal
    base_rate         : share of flagged 1s that also get a base
    base_half_length  : (low, high) half the length of the base
    foot_rate         : share of 1s without a flag that get a foot turning right
    foot_length       : (low, high) length of the foot
    foot_angle        : (low, high) angle of the foot above the horizontal
    slash_rate        : share of 0s that get a slash
    slash_angle       : (low, high) angle of the slash above the horizontal
    slash_reach       : (low, high) vertical extent of the slash as a multiple
                        of the 0's height; above 1 the 0 is shrunk about its
                        centre so that the slash spans the digit's old height
    hook_rate         : share of 9s whose stem gets a hook
    hook_length       : (low, high) length of the hook
    hook_angle        : (low, high) angle of the hook above the horizontal
    """

    flag_rate: float = 0.6
    flag_length: tuple = (0.2, 0.7)
    flag_angle: tuple = (30.0, 70.0)
    base_rate: float = 0.3
    base_half_length: tuple = (0.15, 0.35)
    foot_rate: float = 0.2
    foot_length: tuple = (0.15, 0.35)
    foot_angle: tuple = (20.0, 60.0)
    slash_rate: float = 0.3
    slash_angle: tuple = (40.0, 80.0)
    slash_reach: tuple = (0.8, 1.6)
    hook_rate: float = 0.3
    hook_length: tuple = (0.15, 0.35)
    hook_angle: tuple = (0.0, 45.0)

    def __post_init__(self):
        for name, value in asdict(self).items():
            values = value if isinstance(value, tuple) else (value,)
            if not all(np.isfinite(v) and v >= 0 for v in values):
                raise ValueError(f"style parameter {name} must hold finite numbers >= 0, got {value!r}")
            if name.endswith("_rate") and value > 1:
                raise ValueError(f"style parameter {name} is a share and must be at most 1, got {value!r}")
            if isinstance(value, tuple) and (len(value) != 2 or value[0] > value[1]):
                raise ValueError(f"style parameter {name} must be a (low, high) pair, got {value!r}")


def segment_ink(start, end, width):
    """Return the ink of straight strokes with round ends, antialiased.

    start, end : ndarrays of shape (n, 2), (row, column) of each stroke's ends
    width      : ndarray of shape (n,), stroke widths in pixels
    Returns ndarray of shape (n, 28, 28), float32 in [0, 1].
    """
    grid = np.stack(np.mgrid[0:IMAGE_SIDE, 0:IMAGE_SIDE], axis=-1).astype(DTYPE)
    start = start.astype(DTYPE)[:, None, None, :]
    direction = end.astype(DTYPE)[:, None, None, :] - start
    length_squared = np.maximum((direction * direction).sum(axis=-1), DTYPE(1e-6))
    along = np.clip(((grid - start) * direction).sum(axis=-1) / length_squared, 0, 1)
    nearest = start + along[..., None] * direction
    distance = np.sqrt(((grid - nearest) ** 2).sum(axis=-1))
    return np.clip(width.astype(DTYPE)[:, None, None] / 2 + DTYPE(0.5) - distance, 0, 1)


def ink_extent(images):
    """Return (top, bottom, height) rows of each image's ink, arrays of shape (n,).

    images : ndarray of shape (n, 28, 28)
    """
    inked_rows = images.max(axis=2) >= INK_LEVEL
    top = inked_rows.argmax(axis=1)
    bottom = IMAGE_SIDE - 1 - inked_rows[:, ::-1].argmax(axis=1)
    return top, bottom, np.maximum(bottom - top + 1, 1)


def row_centre(images, rows):
    """Return the ink-weighted mean column of the given row of each image, shape (n,)."""
    line = images[np.arange(len(images)), rows]
    weight = np.maximum(line.sum(axis=1), 1e-6)
    return line @ np.arange(IMAGE_SIDE, dtype=DTYPE) / weight


def centre_of_mass(images):
    """Return the (row, column) centre of mass of each image, shape (n, 2)."""
    mass = np.maximum(images.sum(axis=(1, 2)), 1e-6)
    index = np.arange(IMAGE_SIDE, dtype=DTYPE)
    return np.stack([images.sum(axis=2) @ index / mass, images.sum(axis=1) @ index / mass], axis=1)


def centre_of_mass_shift(images):
    """Return the whole-pixel (rows, columns) shift, shape (2, n), that puts each centre of mass at MNIST_CENTRE."""
    return np.rint(MNIST_CENTRE - centre_of_mass(images).T).astype(np.intp)


def shift_images(images, shift):
    """Return images moved by whole pixels, zeros where nothing moves in.

    images : ndarray of shape (n, 28, 28)
    shift  : ndarray of shape (2, n), rows then columns
    """
    index = np.arange(IMAGE_SIDE)
    source_rows = index[None, :] - shift[0][:, None]
    source_columns = index[None, :] - shift[1][:, None]
    valid = ((source_rows >= 0) & (source_rows < IMAGE_SIDE))[:, :, None] & (
        (source_columns >= 0) & (source_columns < IMAGE_SIDE)
    )[:, None, :]
    rows = np.clip(source_rows, 0, IMAGE_SIDE - 1)[:, :, None]
    columns = np.clip(source_columns, 0, IMAGE_SIDE - 1)[:, None, :]
    moved = images[np.arange(len(images))[:, None, None], rows, columns]
    return np.where(valid, moved, DTYPE(0))


class Styler:
    """Draw flags, bases and feet on some 1s, slashes through some 0s and hooks on some 9s.

    params : StyleParams
    """

    ZERO, ONE, NINE = 0, 1, 9

    def __init__(self, params=StyleParams()):
        self.params = params

    def describe(self):
        """Return the parameters as a JSON-ready dict, for the model metadata."""
        return {name: list(value) if isinstance(value, tuple) else value for name, value in asdict(self.params).items()}

    def __call__(self, images, labels, rng):
        """Return copies of `images` with styles drawn on a random share of the 1s, 0s and 9s.

        images : ndarray of shape (n, 28, 28), float32 in [0, 1], ink = 1
        labels : ndarray of shape (n,), the digits
        rng    : np.random.Generator, the only source of randomness
        Returns ndarray of shape (n, 28, 28), float32 in [0, 1].
        """
        images = np.array(images, dtype=DTYPE)
        labels = np.asarray(labels)
        if images.ndim != 3 or images.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE) or labels.shape != images.shape[:1]:
            raise ValueError(
                f"images must have shape (n, {IMAGE_SIDE}, {IMAGE_SIDE}) and labels (n,), "
                f"got {images.shape} and {labels.shape}"
            )
        draws = rng.random(len(labels))
        flagged = np.flatnonzero((labels == self.ONE) & (draws < self.params.flag_rate))
        slashed = np.flatnonzero((labels == self.ZERO) & (draws < self.params.slash_rate))
        hooked = np.flatnonzero((labels == self.NINE) & (draws < self.params.hook_rate))
        footed = np.flatnonzero(
            (labels == self.ONE) & (draws >= self.params.flag_rate) & (rng.random(len(labels)) < self.params.foot_rate)
        )
        if len(flagged):
            images[flagged] = self._flag(images[flagged], rng)
        if len(footed):
            images[footed] = self._foot(images[footed], rng)
        if len(hooked):
            images[hooked] = self._hook(images[hooked], rng)
        if len(slashed):
            images[slashed] = self._slash(images[slashed], rng)
        styled = np.concatenate([flagged, footed, slashed, hooked])
        if len(styled):
            images[styled] = shift_images(images[styled], centre_of_mass_shift(images[styled]))
        return images

    def _flag(self, ones, rng):
        """Draw a flag from the top of each 1 down to the left, and on some a base."""
        params, n = self.params, len(ones)
        top, bottom, height = ink_extent(ones)
        width = np.clip(ones.sum(axis=(1, 2)) / height, THINNEST_STROKE, THICKEST_STROKE)
        length = height * rng.uniform(*params.flag_length, n)
        angle = np.deg2rad(rng.uniform(*params.flag_angle, n))
        apex = np.stack([top + width / 2, row_centre(ones, top)], axis=1)
        tail = apex + np.stack([length * np.sin(angle), -length * np.cos(angle)], axis=1)
        ones = np.maximum(ones, segment_ink(apex, tail, width))
        based = rng.random(n) < params.base_rate
        if based.any():
            half = (height * rng.uniform(*params.base_half_length, n))[based]
            foot_row = (bottom - width / 2)[based]
            foot_column = row_centre(ones[based], bottom[based])
            left = np.stack([foot_row, foot_column - half], axis=1)
            right = np.stack([foot_row, foot_column + half], axis=1)
            ones[based] = np.maximum(ones[based], segment_ink(left, right, width[based]))
        return ones

    def _hook(self, nines, rng):
        """Draw a hook from the foot of each 9's stem, to the left and up."""
        width = np.clip(nines.sum(axis=(1, 2)) / (2 * ink_extent(nines)[2]), THINNEST_STROKE, THICKEST_STROKE)
        return self._turn_at_bottom(nines, width, self.params.hook_length, self.params.hook_angle, LEFT, rng)

    def _foot(self, ones, rng):
        """Draw a foot from the bottom of each 1, to the right and up."""
        width = np.clip(ones.sum(axis=(1, 2)) / ink_extent(ones)[2], THINNEST_STROKE, THICKEST_STROKE)
        return self._turn_at_bottom(ones, width, self.params.foot_length, self.params.foot_angle, RIGHT, rng)

    def _turn_at_bottom(self, images, width, length_range, angle_range, side, rng):
        """Draw a stroke from the bottom of each digit's stem, up and to `side`, as wide as `width`."""
        n = len(images)
        _, bottom, height = ink_extent(images)
        length = height * rng.uniform(*length_range, n)
        angle = np.deg2rad(rng.uniform(*angle_range, n))
        start = np.stack([bottom - width / 2, row_centre(images, bottom)], axis=1)
        end = start + np.stack([-length * np.sin(angle), side * length * np.cos(angle)], axis=1)
        return np.maximum(images, segment_ink(start, end, width))

    def _slash(self, zeros, rng):
        """Draw a slash through the centre of each 0, from upper right to lower left.

        Many writers draw the slash well past the oval; such a 0 is framed
        by its slash, so the oval is shrunk to leave the slash the height.
        """
        params, n = self.params, len(zeros)
        _, _, height = ink_extent(zeros)
        reach = rng.uniform(*params.slash_reach, n)
        shrink = np.maximum(reach, 1).astype(DTYPE)
        centre = centre_of_mass(zeros)
        offset = centre - DTYPE(GRID_CENTRE)
        grid = np.arange(IMAGE_SIDE, dtype=DTYPE) - DTYPE(GRID_CENTRE)
        rows = offset[:, 0, None, None] + (grid[None, :, None] - offset[:, 0, None, None]) * shrink[:, None, None]
        cols = offset[:, 1, None, None] + (grid[None, None, :] - offset[:, 1, None, None]) * shrink[:, None, None]
        zeros = resample(zeros, np.broadcast_to(rows, zeros.shape), np.broadcast_to(cols, zeros.shape))
        perimeter = np.pi * height / shrink
        width = np.clip(zeros.sum(axis=(1, 2)) / perimeter, THINNEST_STROKE, THICKEST_STROKE)
        angle = np.deg2rad(rng.uniform(*params.slash_angle, n))
        half_rise = height * np.minimum(reach, 1) / 2
        direction = np.stack([half_rise, -half_rise / np.tan(angle)], axis=1)
        return np.maximum(zeros, segment_ink(centre - direction, centre + direction, width))
