"""Turn an uploaded drawing into the 28×28 input the network reads.

MNIST's digits were made in three steps: each digit was fitted into a
20×20 box keeping its aspect ratio (with anti-aliasing, hence grey levels),
then placed in a 28×28 field so that its centre of mass sat at the centre.
A drawing from a canvas is nothing like that: large, anywhere on the canvas,
dark on light or ink in the alpha channel. Each step below brings it closer,
and each is a pure function that can be tested on its own:

    ink_from_bytes:  decode_image → ink_intensity (the alpha of a transparent
                     canvas, or model.paper.separate_ink of ink on paper)
    digit_field:     crop_to_ink → thicken_thin_strokes → crop_to_ink
                     → fit_to_box → centre_by_mass

The pipeline is cut where a drawing may hold several digits: `ink_from_bytes`
turns the whole upload into one ink array, and `digit_field` turns the ink
of one digit (the whole drawing, or one region of it) into the network's
``(28, 28)`` float32 input in [0, 1], ink = 1 as in MNIST. `DIGIT_FIELD_STEPS`
is the one definition of that sequence, which the app, the benchmarks and
the tests all run.
"""

import io
import struct
import zlib

import numpy as np
from PIL import Image, ImageOps
from scipy import ndimage

from model.constants import IMAGE_SIDE, MAX_INTENSITY
from model.paper import separate_ink

PREPROCESSING_VERSION = 2
"""Bumped whenever a change here alters the network's input for the same image."""

DEFAULT_MAX_PIXELS = 4_000_000
"""Largest image (width × height) accepted: a 2000×2000 photo, far above any canvas."""

ACCEPTED_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP")
"""Decoders Pillow may use: the formats the API documents, nothing more exotic."""

DIGIT_BOX = 20
"""Side of the box MNIST fitted each digit into before centring it."""

MNIST_CENTRE = IMAGE_SIDE / 2
"""Where MNIST's centres of mass lie: row and column 14.0 (measured on its training set)."""

INK_NOISE_LEVEL = 0.1
"""Ink fainter than this does not count when finding the digit's bounding box."""

THINNEST_STROKE = 0.10
"""Thinnest stroke kept as drawn, as a fraction of the digit's longer side.

One MNIST digit in ten has a thinner stroke; a pen 8 px wide on a 280 px
canvas gives strokes half as thick, which the network misreads.
"""

STROKE_MASK_LEVEL = 0.5
"""Pixels with more ink than this make up the stroke when measuring its width."""

THICKENING_SIDE = 80
"""Longer side a crop is shrunk to before thickening: enough detail, bounded cost."""

ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})
"""Pillow modes that carry an alpha channel."""

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_UINT32 = struct.Struct(">I")
"""A PNG chunk is its length, its 4-byte type, its data, then the CRC-32 of type and data."""
PNG_CHUNK_TYPE_SIZE = 4


class InputImageError(ValueError):
    """The uploaded bytes cannot be turned into a digit; the message says why."""


class UnreadableImageError(InputImageError):
    """The bytes are not an image in a supported format, or the image is damaged."""


class TooManyPixelsError(InputImageError):
    """The image declares more pixels than allowed (a decompression bomb, or just too big)."""


NO_INK_MESSAGE = "no ink found: the image is blank, draw a digit first"
"""What a blank drawing is told, wherever the blankness is found."""


class NoInkError(InputImageError):
    """The image holds no ink: a blank canvas is not a digit, so none is guessed."""

    def __init__(self, message=NO_INK_MESSAGE):
        super().__init__(message)


def decode_image(data, max_pixels=DEFAULT_MAX_PIXELS):
    """Decode the first frame of an image, upright, refusing oversized ones before decoding.

    Pillow reads only the header on open, so the declared size is checked
    before any pixel data is decompressed: a small file that declares a huge
    image costs nothing. EXIF orientation is applied, so a phone photo is
    upright. Animated images give their first frame.
    """
    if not data:
        raise UnreadableImageError("the image is empty (0 bytes)")
    _check_png_checksums(data)
    try:
        image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise TooManyPixelsError(f"the image has too many pixels ({error})") from None
    except Exception as error:
        raise UnreadableImageError(
            "the data is not a readable image; send a PNG, JPEG, WebP, GIF or BMP file"
        ) from error

    width, height = image.size
    if width * height > max_pixels:
        raise TooManyPixelsError(
            f"the image is {width}×{height} = {width * height:,} pixels; "
            f"the limit is {max_pixels:,}"
        )
    if width == 0 or height == 0:
        raise UnreadableImageError(f"the image has no pixels ({width}×{height})")
    try:
        image.load()
        return ImageOps.exif_transpose(image)
    except Exception as error:
        raise UnreadableImageError(
            f"the {image.format} image is damaged and cannot be decoded"
        ) from error


def _check_png_checksums(data):
    """Refuse a PNG any of whose chunks fails its CRC check.

    Pillow checks the chunks before the image data but not the image data
    itself (IDAT, and fdAT in animated PNGs), so a damaged file could be
    decoded into a wrong picture without an error; libpng refuses it. A
    truncated file is left for Pillow to report.
    """
    if not data.startswith(PNG_SIGNATURE):
        return
    view = memoryview(data)
    position = len(PNG_SIGNATURE)
    while True:
        type_start = position + PNG_UINT32.size
        if type_start + PNG_CHUNK_TYPE_SIZE > len(data):
            return
        (length,) = PNG_UINT32.unpack_from(data, position)
        crc_start = type_start + PNG_CHUNK_TYPE_SIZE + length
        if crc_start + PNG_UINT32.size > len(data):
            return
        (expected,) = PNG_UINT32.unpack_from(data, crc_start)
        chunk_type = bytes(view[type_start : type_start + PNG_CHUNK_TYPE_SIZE])
        if zlib.crc32(view[type_start:crc_start]) != expected:
            raise UnreadableImageError(
                f"the PNG image is damaged: its {chunk_type.decode('latin-1')!r} chunk "
                "fails its checksum"
            )
        if chunk_type == b"IEND":
            return
        position = crc_start + PNG_UINT32.size


def ink_intensity(image):
    """Return how much ink covers each pixel, shape (height, width), float32 in [0, 1].

    An image whose alpha varies is a drawing on a transparent canvas: the
    alpha is the ink, whatever its colour. Any other picture is ink on
    paper, light or dark, flat or photographed: `separate_ink` takes the
    paper away (its shading, shadows, grain and ruled lines).
    """
    if image.mode == "P" or "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ALPHA_MODES:
        alpha = np.asarray(image.getchannel("A"), dtype=np.float32) / MAX_INTENSITY
        if alpha.max() == 0 or alpha.min() < alpha.max():
            return _full_contrast(alpha)
        image = image.convert("RGB")
    return _full_contrast(separate_ink(image))


def _full_contrast(ink):
    """Stretch ink so that its darkest pixel is 1, as in MNIST, unless it is only noise.

    A grey pencil on a scan, or a thin anti-aliased line that never covers
    a whole pixel, would otherwise look fainter than any training digit.
    """
    darkest = ink.max()
    if darkest > INK_NOISE_LEVEL:
        ink /= darkest
    return ink


def crop_box(ink):
    """Return (x, y, width, height) of the smallest rectangle holding every pixel above the noise level.

    ink : ndarray of shape (height, width), float32 in [0, 1]
    Raises NoInkError for a blank image.
    """
    visible = ink > INK_NOISE_LEVEL
    rows = np.flatnonzero(visible.any(axis=1))
    if rows.size == 0:
        raise NoInkError()
    columns = np.flatnonzero(visible.any(axis=0))
    return (int(columns[0]), int(rows[0]), int(columns[-1] - columns[0] + 1), int(rows[-1] - rows[0] + 1))


def crop_to_ink(ink):
    """Return the smallest rectangle of `ink` that holds every pixel above the noise level.

    ink : ndarray of shape (height, width), float32 in [0, 1]
    Returns a view of shape (box_height, box_width). Raises NoInkError for a blank image.
    """
    left, top, width, height = crop_box(ink)
    return ink[top : top + height, left : left + width]


def stroke_width(mask):
    """Estimate the mean width of the strokes in a binary image, in pixels.

    mask : ndarray of shape (height, width), bool
    A stroke of length L and width w covers about L·w pixels and has a
    perimeter of about 2·L, so w ≈ 2·area / perimeter. The perimeter is
    counted as pixel edges between ink and background, scaled by π/4 to
    undo the overcount of curved and slanted edges on a pixel grid.
    """
    area = np.count_nonzero(mask)
    padded = _pad(mask, 1)
    edges = np.count_nonzero(padded[1:] != padded[:-1]) + np.count_nonzero(
        padded[:, 1:] != padded[:, :-1]
    )
    return 2 * area / max(edges * np.pi / 4, 1)


def thicken_thin_strokes(ink):
    """Widen strokes thinner than MNIST's thinnest, leaving others as drawn.

    ink : ndarray of shape (height, width), float32 in [0, 1], cropped to the ink
    Returns a float32 array, larger by the added margin when widened. The
    strokes grow by the missing width, with anti-aliased edges, measured on
    the distance to the nearest ink pixel.
    """
    mask = ink > STROKE_MASK_LEVEL
    missing = THINNEST_STROKE * max(ink.shape) - stroke_width(mask)
    if missing <= 0:
        return ink
    longer_side = max(ink.shape)
    if longer_side > THICKENING_SIDE:
        scale = THICKENING_SIDE / longer_side
        size = (max(1, round(ink.shape[1] * scale)), max(1, round(ink.shape[0] * scale)))
        ink = _resize(ink, size)
        missing *= scale
        mask = ink > STROKE_MASK_LEVEL
    growth = missing / 2
    margin = int(np.ceil(growth)) + 1
    ink = _pad(ink, margin)
    distance = ndimage.distance_transform_edt(~_pad(mask, margin))
    grown = np.clip(growth + 0.5 - distance, 0, 1).astype(np.float32)
    return np.maximum(ink, grown)


def _pad(array, margin):
    """Return `array` with `margin` zeros on every side; np.pad's generality costs ten times more."""
    height, width = array.shape
    padded = np.zeros((height + 2 * margin, width + 2 * margin), dtype=array.dtype)
    padded[margin : margin + height, margin : margin + width] = array
    return padded


def _resize(ink, size):
    """Resample ink to size (width, height) with Lanczos, clipped to [0, 1]."""
    image = Image.fromarray(np.ascontiguousarray(ink, dtype=np.float32), mode="F")
    return np.clip(np.asarray(image.resize(size, Image.Resampling.LANCZOS)), 0, 1)


def fit_to_box(ink):
    """Scale the cropped ink so that its longer side is 20 px, keeping the aspect ratio.

    ink : ndarray of shape (box_height, box_width), float32 in [0, 1]
    Returns ndarray of shape (20, w) or (h, 20) with the other side at least 1,
    float32 in [0, 1]. Lanczos resampling averages over the source pixels when
    shrinking, which gives the grey, anti-aliased edges of MNIST's digits.
    """
    height, width = ink.shape
    scale = DIGIT_BOX / max(height, width)
    return _resize(ink, (max(1, round(width * scale)), max(1, round(height * scale))))


def centre_by_mass(box):
    """Place the box in a 28×28 field with its centre of mass at MNIST's centre.

    box : ndarray of shape (h, w) with h, w ≤ 20, float32 in [0, 1]
    Returns ndarray of shape (28, 28), float32. The shift is a whole number of
    pixels, as in MNIST, and is clamped so that no ink falls off the field.
    """
    height, width = box.shape
    mass = box.sum(dtype=np.float64)
    if mass <= 0:
        raise NoInkError()
    rows = np.arange(height) @ box.sum(axis=1, dtype=np.float64) / mass
    columns = np.arange(width) @ box.sum(axis=0, dtype=np.float64) / mass
    top = int(np.clip(round(MNIST_CENTRE - rows), 0, IMAGE_SIDE - height))
    left = int(np.clip(round(MNIST_CENTRE - columns), 0, IMAGE_SIDE - width))
    field = np.zeros((IMAGE_SIDE, IMAGE_SIDE), dtype=np.float32)
    field[top : top + height, left : left + width] = box
    return field


def ink_from_bytes(data, max_pixels=DEFAULT_MAX_PIXELS):
    """Decode image bytes into ink, shape (height, width), float32 in [0, 1], ink = 1.

    data : bytes of a PNG, JPEG, WebP, GIF or BMP image, any mode and polarity
    Raises UnreadableImageError or TooManyPixelsError; a blank image gives all zeros.
    """
    return ink_intensity(decode_image(data, max_pixels))


DIGIT_FIELD_STEPS = (crop_to_ink, thicken_thin_strokes, crop_to_ink, fit_to_box, centre_by_mass)
"""The steps from one digit's ink to the network's input, in order.

Cropping comes twice: thickening pads the crop by the width it adds."""


def digit_field(ink):
    """Turn the ink of one digit into the network's input, MNIST-style.

    ink : ndarray of shape (height, width), float32 in [0, 1], ink = 1
    Returns ndarray of shape (28, 28), float32 in [0, 1].
    Raises NoInkError when `ink` holds nothing above the noise level.
    """
    for step in DIGIT_FIELD_STEPS:
        ink = step(ink)
    return ink


def preprocess(data, max_pixels=DEFAULT_MAX_PIXELS):
    """Turn image bytes holding one digit into the network's input, shape (28, 28).

    Raises an InputImageError subclass for anything that is not a drawable digit.
    """
    return digit_field(ink_from_bytes(data, max_pixels))
