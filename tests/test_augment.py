"""Augmentation: shapes, range, determinism, the identity, the elastic field's smoothing."""

import numpy as np
import pytest
from scipy import ndimage

from model.training.augment import KINDS, Augmenter, AugmentParams, parse_kinds, smoothing_basis

ZERO = AugmentParams(
    rotation_degrees=0, scale=0, shear_degrees=0, shift_pixels=0, elastic_alpha=0, elastic_sigma=0, thickness=0
)

KIND_SETS = [(kind,) for kind in KINDS] + [KINDS]


def digit_like_images(n=64, seed=0):
    """Images (n, 28, 28) float32 in [0, 1]: blurred random strokes near the centre."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 28, 28), dtype=np.float32)
    images[:, 6:22, 6:22] = rng.random((n, 16, 16)) < 0.3
    images = ndimage.gaussian_filter(images, (0, 1, 1))
    return images / images.max()


@pytest.mark.parametrize("kinds", KIND_SETS, ids=lambda kinds: "+".join(kinds))
def test_shape_dtype_and_range(kinds):
    images = digit_like_images(1500)  # more than one chunk
    before = images.copy()
    out = Augmenter(kinds)(images, np.random.default_rng(1))
    assert out.shape == images.shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert not np.array_equal(out, images), "default parameters should change the images"
    np.testing.assert_array_equal(images, before)


@pytest.mark.parametrize("kinds", KIND_SETS, ids=lambda kinds: "+".join(kinds))
def test_deterministic_per_seed(kinds):
    images = digit_like_images()
    augmenter = Augmenter(kinds)
    first = augmenter(images, np.random.default_rng(7))
    again = augmenter(images, np.random.default_rng(7))
    other = augmenter(images, np.random.default_rng(8))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


@pytest.mark.parametrize("kinds", KIND_SETS + [()], ids=lambda kinds: "+".join(kinds) or "none")
def test_identity_with_zero_parameters(kinds):
    images = digit_like_images()
    out = Augmenter(kinds, ZERO)(images, np.random.default_rng(2))
    np.testing.assert_array_equal(out, images)
    assert out is not images


def test_no_kinds_is_the_identity_with_default_parameters():
    images = digit_like_images()
    np.testing.assert_array_equal(Augmenter(())(images, np.random.default_rng(3)), images)


def test_shift_moves_ink_and_nothing_wraps_between_images():
    # One pixel of ink at the bottom right of the first image: a shift may move
    # it off the edge, but never onto the second image, which stays empty.
    images = np.zeros((2, 28, 28), dtype=np.float32)
    images[0, 27, 27] = 1.0
    params = AugmentParams(rotation_degrees=0, scale=0, shear_degrees=0, shift_pixels=3)
    for seed in range(20):
        out = Augmenter(("affine",), params)(images, np.random.default_rng(seed))
        assert out[1].max() == 0.0


def test_thickness_blends_between_erosion_and_dilation():
    images = digit_like_images()
    out = Augmenter(("thickness",), AugmentParams(thickness=1.0))(images, np.random.default_rng(4))
    cross = ndimage.generate_binary_structure(2, 1)[None]
    low = ndimage.grey_erosion(images, footprint=cross, mode="constant")
    high = ndimage.grey_dilation(images, footprint=cross, mode="constant")
    assert np.all(out >= low - 1e-6) and np.all(out <= high + 1e-6)
    ink_change = out.sum(axis=(1, 2)) - images.sum(axis=(1, 2))
    assert (ink_change > 0).any() and (ink_change < 0).any()


@pytest.mark.parametrize("sigma", [2.0, 4.0, 6.0])
def test_smoothing_basis_reproduces_gaussian_smoothed_noise(sigma):
    # Smoothed white noise G F G.T has covariance GG.T (x) GG.T; the basis
    # field B R B.T must have the same, which holds iff B B.T == G G.T.
    G = ndimage.gaussian_filter1d(np.eye(28), sigma, axis=0, mode="reflect")
    B = smoothing_basis(sigma).astype(np.float64)
    assert B.shape[1] < 28
    np.testing.assert_allclose(B @ B.T, G @ G.T, atol=1e-4 * np.abs(G @ G.T).max())


def test_parse_kinds():
    assert parse_kinds("thickness, affine") == ("affine", "thickness")
    assert parse_kinds("") == () and parse_kinds("none") == ()
    with pytest.raises(ValueError, match="unknown augmentation blur"):
        parse_kinds("affine,blur")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"rotation_degrees": -1}, "rotation_degrees must be a finite number >= 0"),
        ({"scale": 1.0}, "scale must be below 1"),
        ({"elastic_sigma": 0.0}, "elastic_sigma must be > 0"),
        ({"thickness": float("nan")}, "thickness must be a finite number"),
    ],
)
def test_params_are_validated(changes, message):
    with pytest.raises(ValueError, match=message):
        AugmentParams(**changes)


def test_rejects_wrong_shape():
    with pytest.raises(ValueError, match=r"must have shape \(n_samples, 28, 28\)"):
        Augmenter()(np.zeros((2, 784), np.float32), np.random.default_rng(0))


def test_describe_lists_enabled_kinds_only():
    description = Augmenter(("elastic",)).describe()
    assert description == {"elastic": {"alpha": AugmentParams().elastic_alpha, "sigma": AugmentParams().elastic_sigma}}

