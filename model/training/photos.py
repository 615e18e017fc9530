"""Photo-like pictures of handwritten digits on paper, made from pen strokes.

A phone photo or a scan of a form is not a canvas: the paper is white,
cream or grey and its grain shows; the light falls unevenly and a hand or
the phone casts a shadow; some paper is ruled; the ink is a black or blue
pen or a pencil, sometimes faint; the camera blurs a little, is held a few
degrees off and compresses to JPEG. `photo_of` makes such a picture of a
digit's ink, `blank_photo` the same without any digit (paper alone, a
shadow, ruled lines): what a caller who photographs an empty form sends.

Every condition is drawn from wide ranges by the `np.random.Generator`
passed in, so that a model or a preprocessing step cannot fit one look;
the same generator state gives the same bytes.
"""

import io

import numpy as np
from PIL import Image, ImageFilter

from model.constants import MAX_INTENSITY
from model.training.handwriting import render_strokes

PHOTO_SIDE = (240, 1000)
"""Range of the picture's shorter side in pixels: a small crop to a phone photo scaled down."""

ASPECTS = (0.75, 1.0, 4 / 3)
"""Width / height of the picture: portrait, square, landscape."""

DIGIT_HEIGHT = (0.3, 0.65)
"""Height of the digit's ink box as a share of the picture's height."""

PLACING_MARGIN = 0.2
"""Share of each side kept free of ink, so that tilting the camera does not cut the digit."""

PEN_WIDTHS = (6, 26)
"""Range of pen widths in units of the 280-unit canvas: a fine pen to a marker."""

PAPERS = {
    "white": ((236, 236, 236), 14),
    "cream": ((238, 230, 205), 12),
    "grey": ((205, 205, 200), 14),
    "bluish": ((225, 232, 240), 10),
    "recycled": ((214, 206, 190), 12),
}
"""Paper colour (R, G, B) under even light, and how much each channel may differ from it."""

INKS = {
    "black pen": ((20, 20, 25), 20, (0.85, 1.0)),
    "blue pen": ((25, 45, 150), 30, (0.75, 1.0)),
    "dark blue pen": ((20, 30, 90), 20, (0.85, 1.0)),
    "pencil": ((70, 70, 75), 25, (0.45, 0.8)),
    "felt tip": ((35, 35, 40), 20, (0.9, 1.0)),
}
"""Ink colour (R, G, B), its spread per channel, and the range of its strength (opacity)."""

PENCIL_GRAIN = 0.35
"""How much graphite's texture thins the pencil's stroke, at most."""

LIGHT_GRADIENT = (0.0, 0.45)
"""How much darker the dimmest corner of the page is than the brightest, from uneven light."""

SHADOW_CHANCE = 0.5
SHADOW_DEPTH = (0.2, 0.6)
"""Share of light a shadow takes away."""

SHADOW_SOFTNESS = (0.005, 0.08)
"""Width of a shadow's edge as a share of the picture's diagonal."""

RULED_CHANCE = 0.45
RULE_SPACING = (0.06, 0.14)
"""Distance between ruled lines as a share of the picture's height."""

RULE_STRENGTH = (0.08, 0.3)
"""How much of the light a ruled line takes away (they are faint)."""

RULE_WIDTH = (0.002, 0.005)
"""Thickness of a ruled line as a share of the picture's height."""

RULE_COLOURS = ((150, 180, 230), (170, 170, 170), (140, 200, 220))
"""Light blue, grey and cyan rules."""

MARGIN_CHANCE = 0.25
MARGIN_COLOUR = (230, 120, 120)
"""A notebook's red margin line, vertical, on some ruled paper."""

GRAIN_SIGMA = (1.0, 7.0)
"""Standard deviation of the paper's fine grain, in 8-bit levels."""

BLOTCH_SIGMA = (0.0, 6.0)
"""Standard deviation of the paper's coarse blotches, in 8-bit levels."""

BLOTCH_SCALE = 0.05
"""Size of the coarse blotches as a share of the picture's side."""

COLOUR_CAST = 0.08
"""Largest relative shift of a channel from white balance (warm lamps, cool daylight)."""

EXPOSURE = (0.7, 1.08)
"""Overall brightness; above 1 the paper's white clips, as an overexposed photo's does."""

MAX_ROTATION = 8.0
"""Largest tilt of the camera, in degrees."""

MAX_PERSPECTIVE = 0.05
"""Largest shift of a corner from perspective, as a share of the picture's side."""

BLUR_SIGMA = (0.0, 1.6)
"""Camera blur, in pixels of a picture whose shorter side is 500."""

BLUR_REFERENCE_SIDE = 500

SENSOR_NOISE = (0.5, 4.0)
"""Standard deviation of the sensor's noise, in 8-bit levels."""

JPEG_QUALITY = (35, 95)

BLANK_KINDS = ("paper", "shadow", "ruled", "ruled shadow")
"""What a picture without a digit shows."""


def photo_of(ink, rng):
    """Return the JPEG bytes of a photo of `ink` written on paper.

    ink : ndarray of shape (height, width), float in [0, 1], 1 = full ink,
          cropped or not (blank margins are cut off)
    rng : np.random.Generator, the only source of randomness
    """
    size = _photo_size(rng)
    page = _paper(size, rng)
    page = _rule(page, rng) if rng.random() < RULED_CHANCE else page
    page = _write(page, _place(ink, size, rng), rng)
    return _photograph(page, rng)


def photo_of_strokes(strokes, rng):
    """Return the JPEG bytes of a photo of pen strokes (canvas units) written with a random pen."""
    width = rng.uniform(*PEN_WIDTHS)
    ink = np.asarray(render_strokes(strokes, width), dtype=np.float32) / MAX_INTENSITY
    return photo_of(ink, rng)


def blank_photo(rng, kind=None):
    """Return the JPEG bytes of a photo of paper without a digit: `kind` one of BLANK_KINDS, or random."""
    kind = kind or BLANK_KINDS[rng.integers(len(BLANK_KINDS))]
    size = _photo_size(rng)
    page = _paper(size, rng)
    if "ruled" in kind:
        page = _rule(page, rng)
    return _photograph(page, rng, shadow="shadow" in kind)


def _photo_size(rng):
    """Return (width, height) of a picture."""
    shorter = int(rng.integers(*PHOTO_SIDE))
    aspect = ASPECTS[rng.integers(len(ASPECTS))]
    if aspect >= 1:
        return round(shorter * aspect), shorter
    return shorter, round(shorter / aspect)


def _paper(size, rng):
    """Return the paper under even light, shape (height, width, 3), float32 in 8-bit levels."""
    width, height = size
    colour, spread = list(PAPERS.values())[rng.integers(len(PAPERS))]
    colour = np.asarray(colour, dtype=np.float32) + rng.uniform(-spread, spread, 3)
    grain = rng.normal(0, rng.uniform(*GRAIN_SIGMA), (height, width)).astype(np.float32)
    blotches = _smooth_noise((height, width), BLOTCH_SCALE, rng) * rng.uniform(*BLOTCH_SIGMA)
    return colour + (grain + blotches)[..., np.newaxis]


def _smooth_noise(shape, scale, rng):
    """Return noise with features of `scale` × the shorter side, shape `shape`, unit standard deviation."""
    height, width = shape
    cells = max(2, round(1 / scale))
    coarse = rng.normal(0, 1, (cells, cells)).astype(np.float32)
    image = Image.fromarray(coarse, mode="F").resize((width, height), Image.Resampling.BICUBIC)
    values = np.asarray(image)
    return (values - values.mean()) / max(float(values.std()), 1e-6)


def _rule(page, rng):
    """Draw faint ruled lines across the page (and sometimes a margin line down it)."""
    height, width, _ = page.shape
    spacing = rng.uniform(*RULE_SPACING) * height
    thickness = max(1.0, rng.uniform(*RULE_WIDTH) * height)
    strength = rng.uniform(*RULE_STRENGTH)
    colour = np.asarray(RULE_COLOURS[rng.integers(len(RULE_COLOURS))], dtype=np.float32)
    rows = np.arange(height, dtype=np.float32)
    offset = rng.uniform(0, spacing)
    distance = np.abs((rows - offset + spacing / 2) % spacing - spacing / 2)
    cover = np.clip(thickness / 2 + 0.5 - distance, 0, 1) * strength
    page = _blend(page, colour, cover[:, np.newaxis, np.newaxis])
    if rng.random() < MARGIN_CHANCE:
        columns = np.arange(width, dtype=np.float32)
        margin = rng.uniform(0.05, 0.2) * width
        cover = np.clip(thickness / 2 + 0.5 - np.abs(columns - margin), 0, 1) * strength
        page = _blend(page, np.asarray(MARGIN_COLOUR, dtype=np.float32), cover[np.newaxis, :, np.newaxis])
    return page


def _blend(page, colour, cover):
    """Return `page` with `colour` laid over it where `cover` (broadcast to the page) is above 0."""
    return page * (1 - cover) + colour * cover


def _place(ink, size, rng):
    """Return the ink scaled and placed somewhere on a page of `size`, shape (height, width)."""
    width, height = size
    rows = np.flatnonzero(ink.max(axis=1) > 0)
    columns = np.flatnonzero(ink.max(axis=0) > 0)
    if rows.size:
        ink = ink[rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1]
    digit_height = rng.uniform(*DIGIT_HEIGHT) * height
    room = 1 - 2 * PLACING_MARGIN
    scale = min(digit_height / ink.shape[0], room * height / ink.shape[0], room * width / ink.shape[1])
    new_size = (max(1, round(ink.shape[1] * scale)), max(1, round(ink.shape[0] * scale)))
    image = Image.fromarray(np.asarray(ink, dtype=np.float32), mode="F")
    scaled = np.clip(np.asarray(image.resize(new_size, Image.Resampling.BILINEAR)), 0, 1)
    placed = np.zeros((height, width), dtype=np.float32)
    top = _position(height, new_size[1], rng)
    left = _position(width, new_size[0], rng)
    placed[top : top + new_size[1], left : left + new_size[0]] = scaled
    return placed


def _position(side, extent, rng):
    """Return where an extent starts along a side, at least the placing margin from either end."""
    margin = round(PLACING_MARGIN * side)
    return int(rng.integers(margin, max(margin + 1, side - margin - extent + 1)))


def _write(page, ink, rng):
    """Lay ink of a random pen over the page; ink shape (height, width) in [0, 1]."""
    colour, spread, strength = list(INKS.values())[rng.integers(len(INKS))]
    colour = np.clip(np.asarray(colour, dtype=np.float32) + rng.uniform(-spread, spread, 3), 0, 255)
    cover = ink * rng.uniform(*strength)
    if colour.max() - colour.min() < spread and rng.random() < 0.5:
        texture = rng.uniform(0, PENCIL_GRAIN, ink.shape).astype(np.float32)
        cover = cover * (1 - texture)
    return _blend(page, colour, cover[..., np.newaxis])


def _photograph(page, rng, shadow=None):
    """Light the page unevenly, view it through a slightly tilted, blurring camera, save as JPEG."""
    height, width, _ = page.shape
    light = _light((height, width), rng, rng.random() < SHADOW_CHANCE if shadow is None else shadow)
    cast = 1 + rng.uniform(-COLOUR_CAST, COLOUR_CAST, 3).astype(np.float32)
    picture = page * light[..., np.newaxis] * cast * rng.uniform(*EXPOSURE)
    image = Image.fromarray(np.clip(picture, 0, MAX_INTENSITY).astype(np.uint8), mode="RGB")
    image = _tilt(image, rng)
    blur = rng.uniform(*BLUR_SIGMA) * min(width, height) / BLUR_REFERENCE_SIDE
    if blur > 0.3:
        image = image.filter(ImageFilter.GaussianBlur(blur))
    pixels = np.asarray(image, dtype=np.float32)
    pixels = pixels + rng.normal(0, rng.uniform(*SENSOR_NOISE), pixels.shape).astype(np.float32)
    image = Image.fromarray(np.clip(np.rint(pixels), 0, MAX_INTENSITY).astype(np.uint8), mode="RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=int(rng.integers(*JPEG_QUALITY)))
    return buffer.getvalue()


def _light(shape, rng, with_shadow):
    """Return the light falling on each pixel, shape (height, width), float32, 1 = full light."""
    height, width = shape
    rows, columns = np.mgrid[0:height, 0:width].astype(np.float32)
    rows /= max(height - 1, 1)
    columns /= max(width - 1, 1)
    angle = rng.uniform(0, 2 * np.pi)
    along = np.cos(angle) * columns + np.sin(angle) * rows
    along = (along - along.min()) / max(float(along.max() - along.min()), 1e-6)
    light = 1 - rng.uniform(*LIGHT_GRADIENT) * along ** rng.uniform(0.7, 2.0)
    if with_shadow:
        light = light * (1 - rng.uniform(*SHADOW_DEPTH) * _shadow(rows, columns, rng))
    return light.astype(np.float32)


def _shadow(rows, columns, rng):
    """Return where a shadow falls, 1 inside, with a soft edge: a half-plane or a curved edge."""
    angle = rng.uniform(0, 2 * np.pi)
    across = np.cos(angle) * (columns - rng.uniform(0.2, 0.8)) + np.sin(angle) * (rows - rng.uniform(0.2, 0.8))
    across = across + rng.uniform(-0.3, 0.3) * (np.sin(angle) * columns - np.cos(angle) * rows) ** 2
    softness = rng.uniform(*SHADOW_SOFTNESS) * np.sqrt(2)
    return 1 / (1 + np.exp(-across / softness))


def _tilt(image, rng):
    """Rotate the picture a little and shift its corners, as a hand-held camera sees a page."""
    width, height = image.size
    angle = np.radians(rng.uniform(-MAX_ROTATION, MAX_ROTATION))
    centre = np.array([width / 2, height / 2])
    corners = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float64)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    zoom = 1 / (abs(np.cos(angle)) + abs(np.sin(angle)) * max(width / height, height / width)) - 2 * MAX_PERSPECTIVE
    source = (corners - centre) @ rotation.T * zoom + centre
    source += rng.uniform(-MAX_PERSPECTIVE, MAX_PERSPECTIVE, (4, 2)) * [width, height]
    coefficients = _perspective_coefficients(corners, source)
    return image.transform(image.size, Image.Transform.PERSPECTIVE, coefficients, Image.Resampling.BICUBIC)


def _perspective_coefficients(target, source):
    """Return Pillow's 8 coefficients mapping each target corner to its source point."""
    matrix = []
    for (x, y), (u, v) in zip(target, source):
        matrix.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        matrix.append([0, 0, 0, x, y, 1, -v * x, -v * y])
    return np.linalg.solve(np.asarray(matrix), source.reshape(8)).tolist()

