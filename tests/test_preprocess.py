"""Preprocessing, step by step: bytes in, an MNIST-like (28, 28) array out."""

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from bench.support.drawing import STYLES, draw_png, encode_image, encode_style
from model.constants import IMAGE_SIDE
from model.preprocess import (
    DIGIT_BOX,
    MNIST_CENTRE,
    THINNEST_STROKE,
    NoInkError,
    TooManyPixelsError,
    UnreadableImageError,
    centre_by_mass,
    crop_to_ink,
    decode_image,
    fit_to_box,
    ink_intensity,
    preprocess,
    stroke_width,
    thicken_thin_strokes,
)
from model.training.handwriting import render_strokes
from model.training.mnist import TEST_IMAGES, find_file, read_idx

SEVEN = [[(70, 60), (210, 60), (120, 230)]]
"""A "7" drawn in one stroke, as canvas coordinates."""

ONE = [[(140, 40), (140, 240)]]
"""A "1": one vertical stroke."""

PNG_SIGNATURE_LENGTH = 8
IHDR_FIELDS_OFFSET = PNG_SIGNATURE_LENGTH + 8
"""Width and height follow the signature, the IHDR length and its type."""

HALF_PIXEL = 0.5 + 1e-6
"""Whole-pixel shifts leave the centre of mass within half a pixel of the target."""

EXIF_ORIENTATION = 0x0112
ROTATED_90_CLOCKWISE = 6
"""EXIF orientation tag, and its value for a photo to be turned 90° to view."""


def centre_of_mass(image):
    """Return (row, column) of the centre of mass of a 2-D array."""
    rows, columns = np.indices(image.shape)
    mass = image.sum()
    return (rows * image).sum() / mass, (columns * image).sum() / mass


def with_declared_size(png, width, height):
    """Return a PNG whose header claims another size, its CRC fixed so only the size lies."""
    header = bytearray(png)
    struct.pack_into(">II", header, IHDR_FIELDS_OFFSET, width, height)
    ihdr = bytes(header[PNG_SIGNATURE_LENGTH + 4 : IHDR_FIELDS_OFFSET + 13])
    struct.pack_into(">I", header, IHDR_FIELDS_OFFSET + 13, zlib.crc32(ihdr))
    return bytes(header)


def ink_image(strokes=SEVEN, line_width=18):
    return np.asarray(render_strokes(strokes, line_width), dtype=np.float32) / 255


# decode_image


def test_decode_refuses_empty_bytes():
    with pytest.raises(UnreadableImageError, match="empty"):
        decode_image(b"")


@pytest.mark.parametrize(
    "data",
    [b"hello, world", b"<html><body>7</body></html>", b'<svg xmlns="http://www.w3.org/2000/svg"/>'],
    ids=["text", "html", "svg"],
)
def test_decode_refuses_what_is_not_an_image(data):
    with pytest.raises(UnreadableImageError, match="not a readable image"):
        decode_image(data)


def test_decode_refuses_a_truncated_png():
    png = draw_png(SEVEN)
    with pytest.raises(UnreadableImageError, match="damaged"):
        decode_image(png[: len(png) // 2])


def test_decode_refuses_a_declared_size_over_the_limit_before_decoding():
    bomb = with_declared_size(encode_image(Image.new("L", (1, 1))), 50_000, 50_000)
    with pytest.raises(TooManyPixelsError, match="too many pixels"):
        decode_image(bomb)


def test_decode_applies_the_pixel_limit_it_is_given():
    png = encode_image(Image.new("L", (100, 100)))
    assert decode_image(png, max_pixels=10_000).size == (100, 100)
    with pytest.raises(TooManyPixelsError):
        decode_image(png, max_pixels=9_999)


def test_decode_turns_an_exif_rotated_photo_upright():
    landscape = Image.new("L", (40, 20), 255)
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = ROTATED_90_CLOCKWISE
    jpeg = io.BytesIO()
    landscape.save(jpeg, format="JPEG", exif=exif)
    assert decode_image(jpeg.getvalue()).size == (20, 40)


def test_decode_reads_the_first_frame_of_an_animated_gif():
    first = encode_style(render_strokes(ONE), "black")
    second = Image.new("L", first.size, 0)
    buffer = io.BytesIO()
    first.save(buffer, format="GIF", save_all=True, append_images=[second])
    image = decode_image(buffer.getvalue())
    assert np.asarray(image.convert("L")).max() > 0


# ink_intensity


@pytest.mark.parametrize("style", STYLES)
def test_ink_is_found_in_each_style(style):
    ink = render_strokes(SEVEN)
    found = ink_intensity(encode_style(ink, style))
    assert found.dtype == np.float32
    np.testing.assert_allclose(found, np.asarray(ink) / 255, atol=1 / 255)


def test_grey_paper_counts_as_no_ink():
    ink = np.asarray(render_strokes(SEVEN), dtype=np.float32)
    paper, pencil = 200, 40
    scan = Image.fromarray(np.rint(paper - ink / 255 * (paper - pencil)).astype(np.uint8))
    found = ink_intensity(scan)
    assert found.min() == 0
    assert found[ink == 0].max() == 0
    assert found.max() == pytest.approx(1.0)


def test_sixteen_bit_greyscale_is_scaled_to_one():
    values = (np.asarray(render_strokes(SEVEN), dtype=np.uint16) * 257).astype(np.uint16)
    image = Image.fromarray(values)
    assert image.mode == "I;16"
    found = ink_intensity(image)
    assert found.max() == pytest.approx(1.0)
    np.testing.assert_allclose(found, values / 65535, atol=1e-6)


def test_a_palette_image_with_transparency_uses_its_alpha():
    image = encode_style(render_strokes(SEVEN), "transparent").convert("PA")
    assert ink_intensity(image).max() > 0.9


def test_a_fully_transparent_canvas_has_no_ink():
    image = Image.new("RGBA", (50, 50), (255, 255, 255, 0))
    assert ink_intensity(image).max() == 0


# crop_to_ink


def test_crop_keeps_exactly_the_inked_rectangle():
    ink = np.zeros((30, 40), dtype=np.float32)
    ink[5:12, 8:30] = 1
    assert crop_to_ink(ink).shape == (7, 22)


def test_crop_ignores_faint_noise():
    ink = np.full((30, 40), 0.05, dtype=np.float32)
    ink[10:20, 10:15] = 1
    assert crop_to_ink(ink).shape == (10, 5)


def test_crop_of_a_blank_image_says_there_is_no_ink():
    with pytest.raises(NoInkError, match="no ink"):
        crop_to_ink(np.zeros((28, 28), dtype=np.float32))


# stroke_width and thicken_thin_strokes


@pytest.mark.parametrize("line_width", [6, 12, 24])
def test_stroke_width_is_measured_from_a_drawing(line_width):
    mask = ink_image(SEVEN, line_width) > 0.5
    assert stroke_width(mask) == pytest.approx(line_width, rel=0.2)


def test_a_stroke_as_thick_as_mnist_is_left_as_drawn():
    ink = crop_to_ink(ink_image(SEVEN, line_width=24))
    assert thicken_thin_strokes(ink) is ink


def test_a_thin_stroke_is_widened_to_the_thinnest_mnist_stroke():
    thick = thicken_thin_strokes(crop_to_ink(ink_image(SEVEN, line_width=4)))
    relative_width = stroke_width(thick > 0.5) / max(thick.shape)
    assert relative_width == pytest.approx(THINNEST_STROKE, rel=0.25)


def test_thin_and_thick_pens_give_similar_inputs():
    thin, thick = (preprocess(draw_png(SEVEN, line_width=width)) for width in (6, 20))
    assert np.corrcoef(thin.ravel(), thick.ravel())[0, 1] > 0.9


# fit_to_box


def test_fit_scales_the_longer_side_to_the_box_keeping_the_aspect_ratio():
    tall = np.ones((200, 50), dtype=np.float32)
    assert fit_to_box(tall).shape == (DIGIT_BOX, 5)


def test_fit_enlarges_a_tiny_digit():
    tiny = np.ones((4, 2), dtype=np.float32)
    assert fit_to_box(tiny).shape == (DIGIT_BOX, 10)


def test_fit_keeps_a_one_pixel_wide_strip_at_least_one_pixel():
    strip = np.ones((1, 10_000), dtype=np.float32)
    assert fit_to_box(strip).shape == (1, DIGIT_BOX)


def test_fit_stays_within_zero_and_one():
    box = fit_to_box(crop_to_ink(ink_image()))
    assert box.dtype == np.float32
    assert box.min() >= 0 and box.max() <= 1


# centre_by_mass


def test_centre_puts_the_centre_of_mass_at_mnist_centre():
    box = np.zeros((16, 12), dtype=np.float32)
    box[:5, :] = 1
    box[:, 10:] = 1
    field = centre_by_mass(box)
    assert field.shape == (IMAGE_SIDE, IMAGE_SIDE)
    row, column = centre_of_mass(field)
    assert abs(row - MNIST_CENTRE) <= HALF_PIXEL and abs(column - MNIST_CENTRE) <= HALF_PIXEL


def test_centre_never_pushes_ink_off_the_field():
    box = np.zeros((20, 20), dtype=np.float32)
    box[0, 0] = 1
    field = centre_by_mass(box)
    assert field.sum() == pytest.approx(box.sum())


# preprocess, end to end


def test_preprocess_returns_mnist_shaped_input():
    digit = preprocess(draw_png(SEVEN))
    assert digit.shape == (IMAGE_SIDE, IMAGE_SIDE)
    assert digit.dtype == np.float32
    assert digit.min() >= 0 and digit.max() <= 1
    rows = np.flatnonzero(digit.max(axis=1) > 0.1)
    assert rows[-1] - rows[0] + 1 == DIGIT_BOX


def test_preprocess_gives_the_same_input_for_every_style():
    inputs = [preprocess(draw_png(SEVEN, style)) for style in STYLES]
    for other in inputs[1:]:
        np.testing.assert_allclose(other, inputs[0], atol=2 / 255)


def test_preprocess_ignores_where_the_digit_is_drawn():
    shifted = [[(x - 50, y + 30) for x, y in stroke] for stroke in SEVEN]
    np.testing.assert_allclose(preprocess(draw_png(shifted)), preprocess(draw_png(SEVEN)), atol=1e-5)


def test_preprocess_handles_a_digit_touching_the_border():
    touching = [[(0, 0), (279, 0), (140, 279)]]
    digit = preprocess(draw_png(touching))
    assert digit.max() > 0.9
    rows = np.flatnonzero(digit.max(axis=1) > 0)
    assert rows[-1] - rows[0] + 1 == DIGIT_BOX


def test_preprocess_of_a_small_digit_in_a_corner_fills_the_box():
    small = [[(230 + x / 10, 230 + y / 10) for x, y in stroke] for stroke in SEVEN]
    digit = preprocess(draw_png(small, line_width=2))
    rows = np.flatnonzero(digit.max(axis=1) > 0.1)
    assert rows[-1] - rows[0] + 1 >= DIGIT_BOX - 1


def test_preprocess_of_a_tap_gives_a_centred_dot():
    digit = preprocess(draw_png([[(60, 60)]]))
    row, column = centre_of_mass(digit)
    assert abs(row - MNIST_CENTRE) <= HALF_PIXEL and abs(column - MNIST_CENTRE) <= HALF_PIXEL


def test_preprocess_of_a_blank_canvas_says_there_is_no_ink():
    with pytest.raises(NoInkError):
        preprocess(draw_png([]))


def test_preprocess_keeps_an_mnist_digit_nearly_as_it_was(mnist_dir):
    original = read_idx(find_file(mnist_dir, TEST_IMAGES), 3)[0]
    digit = preprocess(encode_image(Image.fromarray(original)))
    expected = original.astype(np.float32) / 255
    correlation = np.corrcoef(digit.ravel(), expected.ravel())[0, 1]
    assert correlation > 0.9
