"""Random distortions of MNIST digits, made afresh for every minibatch.

Three kinds, each switchable: an affine map (rotation, scale, shear, shift),
an elastic distortion (Simard, Steinkraus and Platt, 2003: a random
displacement field smoothed with a Gaussian) and a change of stroke
thickness (a grey dilation or erosion, blended in by a random amount).

Everything is vectorised over the batch. The affine map and the elastic
field are added into one field of source coordinates, and a single
`scipy.ndimage.map_coordinates` call with linear interpolation resamples a
whole chunk of images at once: the images are stacked into one tall picture
with a one-pixel frame of zeros round each, so that no image can borrow ink
from its neighbour. All randomness comes from the `np.random.Generator`
passed in, so a seed gives the same distortions every time.
"""

from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage

from model.constants import DTYPE, IMAGE_SIDE

KINDS = ("affine", "elastic", "thickness")
"""The kinds of augmentation, in the order they are applied to an image."""

CHUNK_SIZE = 1024
"""Images resampled per `map_coordinates` call: enough to hide the call's
overhead, few enough for the coordinate arrays to stay in cache, and few
enough for the stacked row coordinates to be exact in float32."""

FRAME = 1
"""Pixels of zeros round each image in the stacked picture."""

SINGULAR_VALUE_CUTOFF = 1e-4
"""Smoothing directions weaker than this fraction of the strongest are dropped."""


GRID_CENTRE = (IMAGE_SIDE - 1) / 2
"""Centre of the 28×28 pixel grid in pixel indices: the origin of the centred coordinates `resample` reads."""


@dataclass(frozen=True)
class AugmentParams:
    """Strength of each distortion; every random quantity is uniform in [-x, x].

    rotation_degrees : largest rotation
    scale            : largest relative change of size (0.1 is 90 % to 110 %)
    shear_degrees    : largest horizontal shear angle
    shift_pixels     : largest shift along each axis
    elastic_alpha    : Simard's alpha, the scale of the smoothed displacement
    elastic_sigma    : Simard's sigma, the Gaussian's width in pixels
    thickness        : largest blend towards the dilated (thicker) or eroded
                       (thinner) stroke; 1 is a full one-pixel change
    """

    rotation_degrees: float = 10.0
    scale: float = 0.1
    shear_degrees: float = 10.0
    shift_pixels: float = 1.0
    elastic_alpha: float = 30.0
    elastic_sigma: float = 4.0
    thickness: float = 0.5

    def __post_init__(self):
        for name, value in asdict(self).items():
            if not np.isfinite(value) or value < 0:
                raise ValueError(f"augmentation parameter {name} must be a finite number >= 0, got {value!r}")
        if self.scale >= 1:
            raise ValueError(f"augmentation parameter scale must be below 1, got {self.scale!r}")
        if self.elastic_sigma == 0 and self.elastic_alpha > 0:
            raise ValueError("augmentation parameter elastic_sigma must be > 0 when elastic_alpha is")

    def describe(self, kinds):
        """Return the parameters of the enabled `kinds` as a JSON-ready dict, for the model metadata."""
        groups = {
            "affine": {
                "rotation_degrees": self.rotation_degrees,
                "scale": self.scale,
                "shear_degrees": self.shear_degrees,
                "shift_pixels": self.shift_pixels,
            },
            "elastic": {"alpha": self.elastic_alpha, "sigma": self.elastic_sigma},
            "thickness": {"amount": self.thickness},
        }
        return {kind: groups[kind] for kind in KINDS if kind in kinds}


def parse_kinds(text):
    """Return the tuple of kinds named in a comma-separated string, in canonical order.

    An empty string or "none" means no augmentation.
    """
    names = {name.strip().lower() for name in text.split(",") if name.strip()}
    names.discard("none")
    unknown = sorted(names - set(KINDS))
    if unknown:
        raise ValueError(f"unknown augmentation {', '.join(unknown)}: choose from {', '.join(KINDS)}")
    return tuple(kind for kind in KINDS if kind in names)


def smoothing_basis(sigma, side=IMAGE_SIDE):
    """Return B, shape (side, k), such that B @ R @ B.T is a Gaussian-smoothed noise field.

    Simard smooths a field F of white noise with a Gaussian, G @ F @ G.T for
    the (side, side) matrix G of `gaussian_filter1d`. With G = U S V.T,
    V.T @ F @ V is again white noise when F is Gaussian, so the smoothed
    field has the same distribution as U S R S U.T for a white (side, side)
    R. A wide Gaussian keeps only a handful of strong directions: keeping
    k of them draws k * k numbers per field instead of side * side, which
    is most of the time the elastic distortion would otherwise take.
    """
    G = ndimage.gaussian_filter1d(np.eye(side), sigma, axis=0, mode="reflect")
    U, S, _ = np.linalg.svd(G)
    k = int(np.count_nonzero(S >= SINGULAR_VALUE_CUTOFF * S[0]))
    return (U[:, :k] * S[:k]).astype(DTYPE)


class Augmenter:
    """Distort batches of images at random.

    kinds  : iterable of names from KINDS; empty for the identity
    params : AugmentParams
    """

    NOISE_STD = np.sqrt(1 / 3)
    """Standard deviation of Simard's uniform(-1, 1) noise, matched by our Gaussian noise."""

    def __init__(self, kinds=KINDS, params=AugmentParams()):
        self.kinds = tuple(kind for kind in KINDS if kind in set(kinds))
        unknown = set(kinds) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown augmentation {', '.join(sorted(unknown))}: choose from {', '.join(KINDS)}")
        self.params = params
        grid = np.arange(IMAGE_SIDE, dtype=DTYPE) - DTYPE(GRID_CENTRE)
        self._rows = np.broadcast_to(grid[:, None], (IMAGE_SIDE, IMAGE_SIDE))
        self._cols = np.broadcast_to(grid[None, :], (IMAGE_SIDE, IMAGE_SIDE))
        if "elastic" in self.kinds and params.elastic_alpha > 0:
            self._basis = smoothing_basis(params.elastic_sigma)
        else:
            self._basis = None
        self._cross = ndimage.generate_binary_structure(2, 1)[None]

    def describe(self):
        """Return the enabled kinds and their parameters for the model metadata."""
        return self.params.describe(self.kinds)

    def __call__(self, images, rng):
        """Return randomly distorted copies of `images`.

        images : ndarray of shape (n_samples, 28, 28), float32 in [0, 1], ink = 1
        rng    : np.random.Generator, the only source of randomness
        Returns ndarray of shape (n_samples, 28, 28), float32 in [0, 1].
        """
        images = np.asarray(images)
        if images.ndim != 3 or images.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
            raise ValueError(f"images must have shape (n_samples, {IMAGE_SIDE}, {IMAGE_SIDE}), got {images.shape}")
        images = images.astype(DTYPE, copy=True)
        if not self.kinds:
            return images
        for start in range(0, len(images), CHUNK_SIZE):
            chunk = images[start : start + CHUNK_SIZE]
            if "thickness" in self.kinds:
                self._change_thickness(chunk, rng)
            if "affine" in self.kinds or "elastic" in self.kinds:
                chunk[...] = self._warp(chunk, rng)
        np.clip(images, 0, 1, out=images)
        return images

    def _change_thickness(self, images, rng):
        """Blend each image in place towards its dilation or erosion by a random amount."""
        amounts = rng.uniform(-self.params.thickness, self.params.thickness, size=len(images)).astype(DTYPE)
        for selected, grow in ((amounts > 0, True), (amounts < 0, False)):
            if not selected.any():
                continue
            originals = images[selected]
            morph = ndimage.grey_dilation if grow else ndimage.grey_erosion
            changed = morph(originals, footprint=self._cross, mode="constant", cval=0.0)
            changed -= originals
            changed *= np.abs(amounts[selected])[:, None, None]
            images[selected] = originals + changed

    def _source_coordinates(self, n_images, rng):
        """Return the (row, column) each output pixel reads from, two arrays of shape (n, 28, 28)."""
        params = self.params
        rows = np.broadcast_to(self._rows, (n_images, IMAGE_SIDE, IMAGE_SIDE))
        cols = np.broadcast_to(self._cols, (n_images, IMAGE_SIDE, IMAGE_SIDE))
        if "affine" in self.kinds:
            angle = np.deg2rad(rng.uniform(-params.rotation_degrees, params.rotation_degrees, n_images))
            shear = np.tan(np.deg2rad(rng.uniform(-params.shear_degrees, params.shear_degrees, n_images)))
            inverse_zoom = 1 / rng.uniform(1 - params.scale, 1 + params.scale, n_images)
            shift = rng.uniform(-params.shift_pixels, params.shift_pixels, (2, n_images))
            cos, sin = np.cos(angle) * inverse_zoom, np.sin(angle) * inverse_zoom
            # Output pixel p reads from rotation @ shear @ p / zoom - shift, about
            # the centre, in (row, column) order; the shear moves each column
            # sideways in proportion to its row.
            m00, m01 = (cos - sin * shear).astype(DTYPE), (-sin).astype(DTYPE)
            m10, m11 = (sin + cos * shear).astype(DTYPE), cos.astype(DTYPE)
            shift = shift.astype(DTYPE)[..., None, None]
            rows = m00[:, None, None] * self._rows + m01[:, None, None] * self._cols - shift[0]
            cols = m10[:, None, None] * self._rows + m11[:, None, None] * self._cols - shift[1]
        if self._basis is not None:
            k = self._basis.shape[1]
            noise = rng.standard_normal((2, n_images, k, k), dtype=DTYPE)
            noise *= DTYPE(self.params.elastic_alpha * self.NOISE_STD)
            field = self._basis @ noise @ self._basis.T
            rows = rows + field[0]
            cols = cols + field[1]
        return rows, cols

    def _warp(self, images, rng):
        """Resample images (n, 28, 28) at the random source coordinates, linearly, zeros outside."""
        rows, cols = self._source_coordinates(len(images), rng)
        return resample(images, rows, cols)


def resample(images, rows, cols):
    """Return images read at the given source coordinates, with linear interpolation and zeros outside.

    images     : ndarray of shape (n, 28, 28), float32
    rows, cols : ndarrays of shape (n, 28, 28), the source position of each
                 output pixel, measured from the image's centre
    Returns ndarray of shape (n, 28, 28), float32.
    """
    n_images = len(images)
    centre = DTYPE(GRID_CENTRE)
    side = IMAGE_SIDE + 2 * FRAME
    framed = np.zeros((n_images, side, side), dtype=DTYPE)
    framed[:, FRAME:-FRAME, FRAME:-FRAME] = images
    # Centred coordinates back to framed pixel indices (float64, exact for
    # the tall stack); anything beyond the frame is pulled onto it, where
    # the ink is zero.
    low, high = -centre - FRAME, centre + FRAME
    coordinates = np.empty((2, n_images, IMAGE_SIDE, IMAGE_SIDE))
    np.clip(rows, low, high, out=coordinates[0])
    np.clip(cols, low, high, out=coordinates[1])
    coordinates += centre + FRAME
    coordinates[0] += (side * np.arange(n_images))[:, None, None]
    warped = ndimage.map_coordinates(framed.reshape(n_images * side, side), coordinates, order=1, mode="nearest")
    return warped.reshape(n_images, IMAGE_SIDE, IMAGE_SIDE)
