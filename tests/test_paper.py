"""Separating ink from paper: photos and scans lose their paper, canvases pass as drawn.

Every picture is made here: a "7" drawn with the page's pen, laid on paper
with grain, uneven light, a shadow or ruled lines, saved as JPEG or PNG.
"""

import io

import numpy as np
import pytest
from PIL import Image

from bench.support.drawing import STYLES, encode_style
from model.constants import MAX_INTENSITY
from model.paper import separate_ink
from model.preprocess import INK_NOISE_LEVEL, NoInkError, crop_box, ink_from_bytes, preprocess
from model.training.handwriting import render_strokes

SEVEN = [[(70, 60), (210, 60), (120, 230)]]
"""A "7" in canvas coordinates (280 × 280)."""

SIDE = 280
PAPER = np.array([235, 232, 225], dtype=np.float32)
BLACK_INK = np.array([25, 25, 30], dtype=np.float32)
BLUE_INK = np.array([30, 50, 160], dtype=np.float32)
PENCIL = np.array([150, 150, 155], dtype=np.float32)
"""A light pencil: about a third darker than the paper."""

GRAIN = 4.0
"""Standard deviation of the paper's grain, in 8-bit levels."""

CLEAR_OF_INK = 12
"""Pixels this far from any drawn ink must hold no ink at all."""


def seven_cover(pen=14):
    """The "7"'s ink cover, shape (280, 280), float32 in [0, 1]."""
    return np.asarray(render_strokes(SEVEN, pen), dtype=np.float32) / MAX_INTENSITY


def picture(cover, ink=BLACK_INK, light=None, lines=None, seed=0):
    """Return RGB pixels (280, 280, 3) of ink on grainy paper under `light`, with ruled `lines` cover."""
    rng = np.random.default_rng(seed)
    page = np.broadcast_to(PAPER, (SIDE, SIDE, 3)).copy()
    if lines is not None:
        page = page * (1 - lines[..., None]) + np.array([150, 180, 230]) * lines[..., None]
    page = page * (1 - cover[..., None]) + ink * cover[..., None]
    if light is not None:
        page = page * light[..., None]
    page += rng.normal(0, GRAIN, (SIDE, SIDE, 1))
    return np.clip(np.rint(page), 0, MAX_INTENSITY).astype(np.uint8)


def jpeg(pixels, quality=85):
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode="RGB").save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def far_from(cover):
    """Mask of pixels at least CLEAR_OF_INK pixels from any drawn ink."""
    from scipy import ndimage

    return ndimage.distance_transform_edt(cover < 0.05) >= CLEAR_OF_INK


def gradient_light(dimmest=0.45):
    """Light falling from full on the left to `dimmest` on the right, shape (280, 280)."""
    return np.broadcast_to(np.linspace(1, dimmest, SIDE, dtype=np.float32), (SIDE, SIDE))


def shadow_light(depth=0.5):
    """A shadow with a soft edge over the lower right half, shape (280, 280)."""
    rows, columns = np.mgrid[0:SIDE, 0:SIDE]
    inside = 1 / (1 + np.exp(-(rows + columns - SIDE) / 6))
    return (1 - depth * inside).astype(np.float32)


def ruled_lines(spacing=35, strength=0.3):
    """Faint horizontal lines two pixels thick, across the whole page."""
    lines = np.zeros((SIDE, SIDE), dtype=np.float32)
    for row in range(spacing // 2, SIDE, spacing):
        lines[row : row + 2] = strength
    return lines


def test_uneven_light_is_not_ink():
    cover = seven_cover()
    ink = ink_from_bytes(jpeg(picture(cover, light=gradient_light())))
    assert ink[far_from(cover)].max() == 0
    assert np.median(ink[cover > 0.9]) > 0.8


def test_a_shadow_across_the_digit_is_not_ink():
    cover = seven_cover()
    ink = ink_from_bytes(jpeg(picture(cover, light=shadow_light())))
    assert ink[far_from(cover)].max() == 0
    assert np.abs(np.subtract(crop_box(ink), crop_box(cover))).max() <= 2


def test_the_same_digit_in_light_and_in_shadow_is_read_alike():
    cover = seven_cover()
    plain = preprocess(jpeg(picture(cover)))
    shaded = preprocess(jpeg(picture(cover, light=shadow_light() * gradient_light())))
    assert np.abs(plain - shaded).mean() < 0.05


def test_faint_ruled_lines_are_ignored():
    cover = seven_cover()
    ink = ink_from_bytes(jpeg(picture(cover, lines=ruled_lines())))
    assert ink[far_from(cover)].max() < INK_NOISE_LEVEL
    left, top, width, height = crop_box(ink)
    expected = crop_box(cover)
    assert abs(left - expected[0]) <= 2 and abs(width - expected[2]) <= 4
    assert abs(top - expected[1]) <= 2 and abs(height - expected[3]) <= 4


def test_ruled_lines_at_a_slant_are_ignored():
    cover = seven_cover()
    lines = np.asarray(
        Image.fromarray(ruled_lines(), mode="F").rotate(4, resample=Image.Resampling.BILINEAR)
    )
    ink = ink_from_bytes(jpeg(picture(cover, lines=lines)))
    assert ink[far_from(cover)].max() < INK_NOISE_LEVEL


def test_light_pencil_is_kept():
    cover = seven_cover(pen=8)
    ink = ink_from_bytes(jpeg(picture(cover, ink=PENCIL, light=gradient_light(0.7))))
    assert np.median(ink[cover > 0.9]) > 0.6
    assert np.abs(np.subtract(crop_box(ink), crop_box(cover))).max() <= 2


def test_blue_ink_in_a_shadow_is_kept():
    cover = seven_cover()
    ink = ink_from_bytes(jpeg(picture(cover, ink=BLUE_INK, light=shadow_light(0.6))))
    assert np.median(ink[cover > 0.9]) > 0.8
    assert ink[far_from(cover)].max() == 0


def test_paper_alone_in_a_shadow_holds_no_ink():
    empty = np.zeros((SIDE, SIDE), dtype=np.float32)
    data = jpeg(picture(empty, light=shadow_light() * gradient_light(), lines=ruled_lines()))
    with pytest.raises(NoInkError):
        preprocess(data)


def test_heavy_compression_does_not_pass_for_a_flat_canvas():
    cover = seven_cover()
    ink = ink_from_bytes(jpeg(picture(cover, light=gradient_light(0.5)), quality=15))
    assert ink[far_from(cover)].max() < INK_NOISE_LEVEL


@pytest.mark.parametrize("style", [style for style in STYLES if style != "transparent"])
def test_a_flat_canvas_drawing_passes_unchanged(style):
    drawn = render_strokes(SEVEN)
    ink = separate_ink(encode_style(drawn, style))
    np.testing.assert_allclose(ink, np.asarray(drawn) / MAX_INTENSITY, atol=1 / MAX_INTENSITY)


def test_coloured_ink_on_a_flat_canvas_keeps_its_strength():
    drawn = np.asarray(render_strokes(SEVEN), dtype=np.float32) / MAX_INTENSITY
    red = np.array([255, 255, 255]) * (1 - drawn[..., None]) + np.array([220, 0, 0]) * drawn[..., None]
    ink = separate_ink(Image.fromarray(np.rint(red).astype(np.uint8), mode="RGB"))
    np.testing.assert_allclose(ink, drawn, atol=1 / MAX_INTENSITY)


def test_a_large_photo_gives_ink_of_its_own_size():
    cover = np.asarray(render_strokes(SEVEN, 14, size=(1600, 1600)), dtype=np.float32) / MAX_INTENSITY
    rng = np.random.default_rng(1)
    light = np.broadcast_to(np.linspace(1, 0.5, 1600, dtype=np.float32), (1600, 1600))
    page = (PAPER * (1 - cover[..., None]) + BLACK_INK * cover[..., None]) * light[..., None]
    page += rng.normal(0, GRAIN, (1600, 1600, 1))
    ink = ink_from_bytes(jpeg(np.clip(page, 0, MAX_INTENSITY).astype(np.uint8)))
    assert ink.shape == (1600, 1600)
    assert ink.dtype == np.float32
    left, top, width, height = crop_box(ink)
    expected = crop_box(cover)
    assert abs(left - expected[0]) <= 8 and abs(width - expected[2]) <= 16
