"""Writing styles drawn on MNIST digits: which digits change, where the new ink goes, framing, determinism."""

import numpy as np
import pytest

from model.preprocess import MNIST_CENTRE
from model.training.mnist import load_mnist
from model.training.writing_styles import StyleParams, Styler, centre_of_mass, segment_ink, shift_images

PER_DIGIT = 40
ALWAYS = StyleParams(flag_rate=1.0, base_rate=0.0, slash_rate=1.0, hook_rate=1.0)
NEVER = StyleParams(flag_rate=0.0, foot_rate=0.0, slash_rate=0.0, hook_rate=0.0)
STYLED_DIGITS = [0, 1, 9]


@pytest.fixture(scope="module")
def digits(mnist_dir):
    """The first PER_DIGIT training images of every digit: (images (n, 28, 28) float32 in [0, 1], labels (n,))."""
    data = load_mnist(mnist_dir)
    chosen = np.concatenate([np.flatnonzero(data.train_labels == digit)[:PER_DIGIT] for digit in range(10)])
    return data.train_images[chosen].astype(np.float32) / 255, data.train_labels[chosen]


def test_only_zeros_ones_and_nines_change(digits):
    images, labels = digits
    styled = Styler(ALWAYS)(images, labels, np.random.default_rng(0))
    changed = np.abs(styled - images).max(axis=(1, 2)) > 0
    assert changed[np.isin(labels, STYLED_DIGITS)].all()
    assert not changed[~np.isin(labels, STYLED_DIGITS)].any()


def test_rates_of_zero_leave_every_image_alone(digits):
    images, labels = digits
    np.testing.assert_array_equal(Styler(NEVER)(images, labels, np.random.default_rng(0)), images)


def test_default_rates_style_some_but_not_all(digits):
    images, labels = digits
    styled = Styler()(images, labels, np.random.default_rng(0))
    ones = labels == 1
    share = (np.abs(styled[ones] - images[ones]).max(axis=(1, 2)) > 0).mean()
    assert 0.2 < share < 0.8


def upright_ones(n=20):
    """Images (n, 28, 28) of a plain vertical bar, 3 pixels wide and 20 tall, like MNIST's plainest 1."""
    images = np.zeros((n, 28, 28), dtype=np.float32)
    images[:, 4:24, 13:16] = 1
    return images


def test_flag_adds_ink_down_to_the_left_of_the_top_of_a_one():
    flagged = Styler(ALWAYS)(upright_ones(), np.ones(20), np.random.default_rng(1))
    for image in flagged:
        rows = np.flatnonzero(image.max(axis=1) >= 0.3)
        top, bottom = rows[0], rows[-1]
        bar_left = np.flatnonzero(image[bottom] >= 0.3)[0]
        upper_left = np.flatnonzero(image[top : (top + bottom) // 2].max(axis=0) >= 0.3)[0]
        assert upper_left <= bar_left - 2, "ink should reach left of the bar near its top"
        assert bottom - top + 1 == 20, "the flag stays within the digit's height"


def test_slash_crosses_the_hole_of_a_zero(digits):
    images, labels = digits
    zeros = images[labels == 0]
    slashed = Styler(ALWAYS)(zeros, np.zeros(len(zeros)), np.random.default_rng(2))
    centre_before = zeros[:, 12:16, 12:16].mean()
    centre_after = slashed[:, 12:16, 12:16].mean()
    assert centre_before < 0.2 < centre_after


def test_base_is_drawn_at_the_foot_of_a_one():
    based = Styler(StyleParams(flag_rate=1.0, base_rate=1.0, flag_length=(0.0, 0.0)))(
        upright_ones(), np.ones(20), np.random.default_rng(3)
    )
    for image in based:
        bottom = np.flatnonzero(image.max(axis=1) >= 0.3)[-1]
        assert np.count_nonzero(image[bottom] >= 0.3) >= 3 + 2 * 2, "a base wider than the bar"
        assert np.count_nonzero(image[bottom - 6] >= 0.3) == 3, "the middle of the bar is untouched"


def test_foot_turns_right_at_the_bottom_of_a_one():
    footed = Styler(StyleParams(flag_rate=0.0, foot_rate=1.0))(upright_ones(), np.ones(20), np.random.default_rng(9))
    for image in footed:
        rows = np.flatnonzero(image.max(axis=1) >= 0.3)
        top, bottom = rows[0], rows[-1]
        bar_right = np.flatnonzero(image[top] >= 0.3)[-1]
        foot_right = np.flatnonzero(image[bottom - 3 : bottom + 1].max(axis=0) >= 0.3)[-1]
        assert foot_right >= bar_right + 2, "ink should reach right of the bar near its bottom"


def test_hook_adds_ink_left_of_the_foot_of_a_nine():
    nines = upright_ones()
    nines[:, 4:10, 8:16] = 1  # a square head on the stem
    hooked = Styler(ALWAYS)(nines, np.full(20, 9), np.random.default_rng(8))
    for image in hooked:
        rows = np.flatnonzero(image.max(axis=1) >= 0.3)
        bottom = rows[-1]
        stem_left = np.flatnonzero(image[bottom - 8] >= 0.3)[0]
        foot_left = np.flatnonzero(image[bottom - 3 : bottom + 1].max(axis=0) >= 0.3)[0]
        assert foot_left <= stem_left - 2, "ink should reach left of the stem near its foot"


def test_styled_digits_keep_their_centre_of_mass_at_mnist_centre(digits):
    images, labels = digits
    styled = Styler(ALWAYS)(images, labels, np.random.default_rng(4))
    centres = centre_of_mass(styled[np.isin(labels, STYLED_DIGITS)])
    assert np.abs(centres - MNIST_CENTRE).max() <= 0.5 + 1e-4


def test_range_shape_dtype_and_input_untouched(digits):
    images, labels = digits
    before = images.copy()
    styled = Styler(ALWAYS)(images, labels, np.random.default_rng(5))
    assert styled.shape == images.shape and styled.dtype == np.float32
    assert styled.min() >= 0 and styled.max() <= 1
    np.testing.assert_array_equal(images, before)


def test_same_seed_same_styles(digits):
    images, labels = digits
    styler = Styler()
    first = styler(images, labels, np.random.default_rng(6))
    np.testing.assert_array_equal(first, styler(images, labels, np.random.default_rng(6)))
    assert not np.array_equal(first, styler(images, labels, np.random.default_rng(7)))


def test_segment_ink_draws_a_round_ended_line():
    ink = segment_ink(np.array([[10.0, 5.0]]), np.array([[10.0, 20.0]]), np.array([3.0]))[0]
    assert ink[10, 5:21].min() == 1.0
    assert ink[8:13, 12].tolist() == [0.0, 1.0, 1.0, 1.0, 0.0]
    assert ink[10, 3] == 0.0 and ink[10, 22] == 0.0
    assert ink[:, :3].max() == 0.0 and ink[:5].max() == 0.0


def test_shift_images_moves_by_whole_pixels_and_fills_with_zeros():
    images = np.zeros((2, 28, 28), dtype=np.float32)
    images[:, 0, 0] = 1
    images[:, 27, 27] = 0.5
    moved = shift_images(images, np.array([[2, -1], [3, -1]]))
    assert moved[0, 2, 3] == 1 and moved[0].sum() == 1, "the far corner falls off"
    assert moved[1, 26, 26] == 0.5 and moved[1].sum() == 0.5, "the near corner falls off"


@pytest.mark.parametrize(
    "changes",
    [
        {"flag_rate": 1.5},
        {"slash_rate": -0.1},
        {"flag_angle": (70.0, 35.0)},
        {"slash_reach": (0.5,)},
        {"flag_length": (0.2, float("nan"))},
    ],
)
def test_parameters_are_validated(changes):
    with pytest.raises(ValueError):
        StyleParams(**changes)


def test_mismatched_labels_are_refused(digits):
    images, labels = digits
    with pytest.raises(ValueError, match="labels"):
        Styler()(images, labels[:-1], np.random.default_rng(0))
