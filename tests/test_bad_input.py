"""Bad input to /predict and /predict/number: every malformed, hostile or odd request gets a clear 4xx.

tests/test_api.py covers the common errors (a missing field, text as an
image, bad base64, wrong content types, several files in the field, a
blank canvas, an oversized body in-process) and tests/test_preprocess.py
the decoding steps; this module adds the rest, each with real bytes made
here, and unknown paths (the site's error page for a browser, JSON for a
program). The last tests talk HTTP over a socket to the real gunicorn, for
what only the server can show: a body over the limit on the wire, an empty
request. (Headers that gunicorn refuses itself are in tests/test_faults.py,
with the workers.)
"""

import base64
import io
import json
import re
import socket
import struct
import threading
import time
import urllib.parse
import zlib

import numpy as np
import pytest
from PIL import Image, ImageFile, ImageOps

from app import create_app
from app.storage import sqlite_url
from bench.support.digits import DIGIT_STROKES
from bench.support.drawing import encode_image, encode_style
from bench.support.hostile import HOSTILE_CLASSES, HOSTILE_SIZES, OPAQUE_NOISES
from bench.support.http import multipart_body
from model.constants import N_CLASSES
from model.preprocess import DEFAULT_MAX_PIXELS
from model.training.handwriting import render_strokes

ONE, SEVEN, ZERO = DIGIT_STROKES[1], DIGIT_STROKES[7], DIGIT_STROKES[0]

PNG_SIGNATURE_LENGTH = 8
LENGTH_FIELD = 4
CHUNK_HEADER_LENGTH = 8
CRC_LENGTH = 4
"""A PNG chunk is its 4-byte length, 4-byte type, data, then the CRC of type and data."""
IHDR_DATA_LENGTH = 13

EXIF_ORIENTATION = 0x0112
ROTATE_270_TO_VIEW = 6
"""EXIF orientation for a photo stored turned 90° anticlockwise."""

SOCKET_TIMEOUT_S = 10
"""Correctness bound for every socket exchange with the real server: never a hang."""


NUMBER_ENDPOINT = "/predict/number"
IMAGE_ENDPOINTS = ("/predict", NUMBER_ENDPOINT)
"""Both take an image in the same three forms, with the same limits and errors."""


@pytest.fixture(params=IMAGE_ENDPOINTS, ids=["digit", "number"])
def endpoint(request):
    """Each test of an upload runs against both image endpoints."""
    return request.param


def png_chunks(png):
    """Yield (offset, length, type) of each chunk of a PNG."""
    offset = PNG_SIGNATURE_LENGTH
    while offset < len(png):
        length, chunk_type = struct.unpack_from(">I4s", png, offset)
        yield offset, length, chunk_type
        offset += CHUNK_HEADER_LENGTH + length + CRC_LENGTH


def idat_offset(png):
    """Return (offset of the first IDAT chunk's data, its length)."""
    offset, length = next((o, n) for o, n, kind in png_chunks(png) if kind == b"IDAT")
    return offset + CHUNK_HEADER_LENGTH, length


def fix_crc(png, chunk_offset):
    """Recompute the CRC of the chunk at `chunk_offset`, so that only its contents lie."""
    data = bytearray(png)
    (length,) = struct.unpack_from(">I", data, chunk_offset)
    body = bytes(data[chunk_offset + LENGTH_FIELD : chunk_offset + CHUNK_HEADER_LENGTH + length])
    struct.pack_into(">I", data, chunk_offset + CHUNK_HEADER_LENGTH + length, zlib.crc32(body))
    return bytes(data)


def with_size(png, width, height):
    """Return the PNG with another declared size in IHDR, its CRC made right."""
    data = bytearray(png)
    struct.pack_into(">II", data, PNG_SIGNATURE_LENGTH + CHUNK_HEADER_LENGTH, width, height)
    return fix_crc(bytes(data), PNG_SIGNATURE_LENGTH)


def ink(strokes=ONE):
    """The ink of a drawing, a mode "L" canvas image with 255 = full ink."""
    return render_strokes(strokes)


def dark_on_light(strokes=ONE):
    return encode_style(ink(strokes), "white")


def post_raw(client, endpoint, data, content_type="image/png"):
    return client.post(endpoint, data=data, content_type=content_type)


def post_form(client, endpoint, body, boundary="BOUNDARY"):
    return client.post(endpoint, data=body, content_type=f"multipart/form-data; boundary={boundary}")


def assert_error(response, status, code, message_part=""):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert error["code"] == code
    assert message_part in error["message"]


def assert_prediction(response, digit=None):
    """Assert a 200 answer of either endpoint; with `digit`, that it read that one digit."""
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    readings = body["digits"] if response.request.path == NUMBER_ENDPOINT else [body]
    assert readings and all(len(reading["probabilities"]) == N_CLASSES for reading in readings)
    if digit is not None:
        assert [reading["digit"] for reading in readings] == [digit]
    return body


# Empty and missing


def test_an_empty_json_body_is_not_a_json_object(client, endpoint):
    assert_error(post_raw(client, endpoint, b"", "application/json"), 400, "invalid_json")


def test_a_form_with_no_parts_has_no_image(client, endpoint):
    assert_error(post_form(client, endpoint, b"--BOUNDARY--\r\n"), 400, "missing_image")


def test_an_empty_post_without_a_content_type_is_a_missing_image(client, endpoint):
    response = client.post(endpoint)
    assert "Content-Type" not in response.request.headers
    assert_error(response, 400, "missing_image", "empty")


def test_a_body_without_a_content_type_is_still_an_unsupported_type(client, endpoint):
    response = client.post(endpoint, data=encode_image(dark_on_light()), content_type="")
    assert_error(response, 415, "unsupported_media_type", "Content-Type none")


# Not an image


def test_html_in_a_data_url_that_claims_to_be_a_png_is_not_an_image(client, endpoint):
    html = base64.b64encode(b"<!doctype html><title>7</title>").decode()
    assert_error(client.post(endpoint, json={"image": f"data:image/png;base64,{html}"}),
                 400, "invalid_image")


def test_svg_uploaded_as_a_form_file_is_not_an_image(client, endpoint):
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><text>7</text></svg>'
    body = multipart_body([(b"image", b"seven.svg", b"image/svg+xml", svg)])
    assert_error(post_form(client, endpoint, body), 400, "invalid_image")


def test_an_svg_data_url_is_an_unsupported_type(client, endpoint):
    svg = base64.b64encode(b'<svg xmlns="http://www.w3.org/2000/svg"/>').decode()
    assert_error(client.post(endpoint, json={"image": f"data:image/svg+xml;base64,{svg}"}),
                 415, "unsupported_media_type")


# Damaged PNGs


def test_a_png_cut_inside_its_image_data_is_damaged(client, endpoint):
    png = encode_image(dark_on_light())
    start, length = idat_offset(png)
    assert_error(post_raw(client, endpoint, png[: start + length // 2]), 400, "invalid_image", "damaged")


def test_a_png_whose_image_data_fails_its_crc_is_refused(client, endpoint):
    png = bytearray(encode_image(dark_on_light()))
    start, length = idat_offset(png)
    png[start + length] ^= 0xFF  # first byte of the IDAT CRC; the pixels are intact
    assert_error(post_raw(client, endpoint, bytes(png)), 400, "invalid_image", "checksum")


def test_a_png_whose_header_fails_its_crc_is_refused(client, endpoint):
    png = bytearray(encode_image(dark_on_light()))
    png[PNG_SIGNATURE_LENGTH + CHUNK_HEADER_LENGTH + IHDR_DATA_LENGTH] ^= 0xFF  # IHDR's CRC
    assert_error(post_raw(client, endpoint, bytes(png)), 400, "invalid_image")


def test_corrupt_compressed_data_with_a_valid_crc_is_damaged(client, endpoint):
    png = bytearray(encode_image(dark_on_light()))
    start, length = idat_offset(png)
    png[start + 2 : start + length] = bytes(length - 2)  # keep the zlib header, zero the rest
    png = fix_crc(bytes(png), start - CHUNK_HEADER_LENGTH)
    assert_error(post_raw(client, endpoint, png), 400, "invalid_image", "damaged")


# Sizes


@pytest.mark.parametrize(("width", "height"), [(0, 5), (5, 0), (0, 0)])
def test_an_image_of_zero_size_is_refused(client, endpoint, width, height):
    png = with_size(encode_image(Image.new("L", (5, 5), 255)), width, height)
    assert_error(post_raw(client, endpoint, png), 400, "invalid_image")


@pytest.mark.parametrize(
    "image",
    [Image.new("L", (1, 1), 0), Image.new("L", (1, 1), 255), Image.new("RGBA", (1, 1), (0, 0, 0, 255)),
     Image.new("RGBA", (1, 1), (0, 0, 0, 0))],
    ids=["black", "white", "opaque", "transparent"],
)
def test_a_one_pixel_image_has_no_ink_to_read(client, endpoint, image):
    assert_error(post_raw(client, endpoint, encode_image(image)), 422, "no_ink")


@pytest.mark.parametrize("size", [(100_000, 1), (1, 100_000)], ids=["1x100000", "100000x1"])
def test_a_one_pixel_strip_with_a_stroke_is_read_without_error(client, endpoint, size):
    strip = Image.new("L", size, 255)
    pixels = np.asarray(strip).copy()
    pixels.reshape(-1)[40_000:60_000] = 0
    assert_prediction(post_raw(client, endpoint, encode_image(Image.fromarray(pixels))))


def test_a_decompression_bomb_is_refused_before_its_pixels_are_decoded(client, endpoint, monkeypatch):
    side = 5_000
    assert side * side > DEFAULT_MAX_PIXELS
    bomb = encode_image(Image.new("L", (side, side), 255), compress_level=9)
    assert len(bomb) < 100_000, "a small file that declares 25 million pixels"
    decoded = []
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda image: decoded.append(image))
    assert_error(post_raw(client, endpoint, bomb), 422, "too_many_pixels")
    assert decoded == []


# Bodies cut short


def test_a_body_shorter_than_its_content_length_is_refused(client, endpoint):
    png = encode_image(dark_on_light())
    response = client.post(endpoint, data=png[:100], content_type="image/png",
                           environ_overrides={"CONTENT_LENGTH": str(len(png))})
    assert_error(response, 400, "invalid_body")


# Over the size limit, in every request form


def limit_named(app):
    """The body limit as the 413 message states it."""
    return f"{app.config['MAX_CONTENT_LENGTH']:,} bytes (MAX_UPLOAD_BYTES)"


def test_a_raw_body_over_the_size_limit_is_refused_naming_the_limit(client, endpoint, app):
    oversized = bytes(app.config["MAX_CONTENT_LENGTH"] + 1)
    assert_error(post_raw(client, endpoint, oversized), 413, "payload_too_large", limit_named(app))


def test_a_json_body_over_the_size_limit_is_refused_naming_the_limit(client, endpoint, app):
    oversized = json.dumps({"image": "A" * app.config["MAX_CONTENT_LENGTH"]})
    assert_error(post_raw(client, endpoint, oversized, "application/json"), 413, "payload_too_large", limit_named(app))


def test_a_form_over_the_size_limit_is_refused_naming_the_limit(client, endpoint, app):
    body = multipart_body([(b"image", b"a.png", b"image/png", bytes(app.config["MAX_CONTENT_LENGTH"]))])
    assert_error(post_form(client, endpoint, body), 413, "payload_too_large", limit_named(app))


def test_a_form_with_too_many_parts_is_refused_naming_the_limit(client, endpoint, app):
    parts = app.config["MAX_FORM_PARTS"] + 1
    body = b"".join(b'--BOUNDARY\r\nContent-Disposition: form-data; name="n%d"\r\n\r\nx\r\n' % i
                    for i in range(parts)) + b"--BOUNDARY--\r\n"
    assert_error(post_form(client, endpoint, body), 413, "payload_too_large", f"{app.config['MAX_FORM_PARTS']} parts")


def test_a_form_field_over_the_form_memory_limit_is_refused_naming_the_limit(client, endpoint, app):
    limit = app.config["MAX_FORM_MEMORY_SIZE"]
    body = (b'--BOUNDARY\r\nContent-Disposition: form-data; name="note"\r\n\r\n'
            + b"x" * (limit + 1) + b"\r\n--BOUNDARY--\r\n")
    assert_error(post_form(client, endpoint, body), 413, "payload_too_large", f"{limit} bytes")


# Animated images: the first frame is read


@pytest.mark.parametrize("image_format", ["GIF", "PNG", "WEBP"])
def test_an_animated_image_is_read_from_its_first_frame(client, endpoint, image_format):
    first, second = dark_on_light(ONE), dark_on_light(ZERO)
    params = {"lossless": True} if image_format == "WEBP" else {}
    animated = encode_image(first, image_format, save_all=True, append_images=[second], duration=100, **params)
    assert Image.open(io.BytesIO(animated)).n_frames == 2
    still = encode_image(first, image_format, **params)
    assert_prediction(post_raw(client, endpoint, animated), digit=1)
    assert post_raw(client, endpoint, animated).get_json() == post_raw(client, endpoint, still).get_json()


# Modes and encodings


def sixteen_bit(strokes):
    light = 255 - np.asarray(ink(strokes), dtype=np.uint16)
    return Image.fromarray((light * 257).astype(np.uint16))


@pytest.mark.parametrize(
    ("make", "image_format", "params"),
    [
        (lambda: sixteen_bit(ONE), "PNG", {}),
        (lambda: dark_on_light().convert("P"), "PNG", {}),
        (lambda: ink().convert("P"), "PNG", {"transparency": 0}),
        (lambda: dark_on_light().convert("1"), "PNG", {}),
        (lambda: encode_style(ink(), "transparent").convert("LA"), "PNG", {}),
        (lambda: dark_on_light().convert("CMYK"), "JPEG", {}),
        (lambda: dark_on_light().convert("P"), "BMP", {}),
    ],
    ids=["16_bit_png", "palette_png", "palette_png_with_transparency", "1_bit_png",
         "grey_alpha_png", "cmyk_jpeg", "palette_bmp"],
)
def test_an_image_in_any_mode_is_read(client, endpoint, make, image_format, params):
    data = encode_image(make(), image_format, **params)
    assert Image.open(io.BytesIO(data)).mode not in {"RGB", "RGBA", "L"}
    assert_prediction(post_raw(client, endpoint, data), digit=1)


def test_an_exif_rotated_jpeg_is_read_upright(client, endpoint):
    upright = dark_on_light(SEVEN)
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = ROTATE_270_TO_VIEW
    stored = encode_image(upright.transpose(Image.Transpose.ROTATE_90), "JPEG", exif=exif)
    assert ImageOps.exif_transpose(Image.open(io.BytesIO(stored))).size == upright.size
    assert_prediction(post_raw(client, endpoint, stored, "image/jpeg"), digit=7)


# Base64 and JSON


def test_a_data_url_without_base64_is_refused(client, endpoint):
    assert_error(client.post(endpoint, json={"image": "data:image/png,%89PNG"}), 400, "invalid_base64")


def test_base64_wrapped_over_several_lines_is_accepted(client, endpoint):
    encoded = base64.encodebytes(encode_image(dark_on_light())).decode()
    assert "\n" in encoded.strip()
    assert_prediction(client.post(endpoint, json={"image": encoded}), digit=1)


@pytest.mark.parametrize("body", [b"null", b'"data:image/png;base64,AAAA"', b"42", b"true"],
                         ids=["null", "string", "number", "boolean"])
def test_json_that_is_not_an_object_is_refused(client, endpoint, body):
    assert_error(post_raw(client, endpoint, body, "application/json"), 400, "invalid_json")


def test_json_nested_too_deep_for_the_parser_is_refused(client, endpoint):
    depth = 100_000
    assert_error(post_raw(client, endpoint, b"[" * depth + b"]" * depth, "application/json"), 400, "invalid_json")


def test_json_that_is_not_utf8_is_refused(client, endpoint):
    body = '{"image": "é"}'.encode("latin-1")
    assert_error(post_raw(client, endpoint, body, "application/json"), 400, "invalid_json")


# Content types


def test_a_png_sent_as_jpeg_is_read_by_its_contents(client, endpoint):
    assert_prediction(post_raw(client, endpoint, encode_image(dark_on_light()), "image/jpeg"), digit=1)


def test_a_content_type_in_capitals_with_parameters_is_accepted(client, endpoint):
    assert_prediction(post_raw(client, endpoint, encode_image(dark_on_light()), "IMAGE/PNG; name=digit.png"), digit=1)


def test_a_jpeg_sent_as_image_jpg_the_common_misspelling_is_read(client, endpoint):
    jpeg = encode_image(dark_on_light().convert("L"), "JPEG", quality=95)
    assert_prediction(post_raw(client, endpoint, jpeg, "image/jpg"), digit=1)


def test_a_jpg_data_url_is_read(client, endpoint):
    jpeg = encode_image(dark_on_light().convert("L"), "JPEG", quality=95)
    body = json.dumps({"image": "data:image/jpg;base64," + base64.b64encode(jpeg).decode("ascii")})
    assert_prediction(client.post(endpoint, data=body, content_type="application/json"), digit=1)


# The preview parameter


@pytest.mark.parametrize("value", ["2", "true", "yes", "", "01", "1 "])
def test_a_preview_value_other_than_0_or_1_is_refused_naming_it(client, endpoint, value):
    response = post_raw(client, f"{endpoint}?preview={urllib.parse.quote(value)}", encode_image(dark_on_light()))
    assert_error(response, 400, "invalid_parameter", repr(value))


def test_preview_0_leaves_the_preview_out(client, endpoint):
    body = assert_prediction(post_raw(client, f"{endpoint}?preview=0", encode_image(dark_on_light())), digit=1)
    assert "preview" not in json.dumps(body)


# Hostile drawings: thousands of marks (tests/test_hostile.py sends them to the real server)


@pytest.mark.parametrize("name", sorted(HOSTILE_CLASSES))
def test_a_drawing_of_thousands_of_marks_is_read_or_too_many_digits(client, endpoint, name):
    response = post_raw(client, endpoint, HOSTILE_CLASSES[name](min(HOSTILE_SIZES[name])))
    if response.status_code == 422 and name in OPAQUE_NOISES:
        assert response.get_json()["error"]["code"] in {"no_ink", "too_many_digits"}
    elif response.status_code == 422 and endpoint == NUMBER_ENDPOINT:
        assert_error(response, 422, "too_many_digits")
    else:
        assert_prediction(response)


# One style for every message


SENTENCE = re.compile(r"^[A-Z0-9].*[.!?]\)?$", re.DOTALL)
"""A message starts with a capital letter (or a figure) and ends with a full stop (maybe inside a parenthesis)."""


def blank_png():
    return encode_image(Image.new("RGB", (28, 28), "white"))


def twelve_ones_and_one():
    return encode_image(encode_style(ink([[(20 + 21 * i, 60), (20 + 21 * i, 220)] for i in range(13)]), "white"))


ERRORS = {
    "no_ink": lambda client, endpoint: post_raw(client, endpoint, blank_png()),
    "invalid_image": lambda client, endpoint: post_raw(client, endpoint, b"\x89PNG\r\n\x1a\n not really"),
    "too_many_pixels": lambda client, endpoint: post_raw(client, endpoint, with_size(encode_image(dark_on_light()),
                                                                                   5000, 5000)),
    "too_many_digits": lambda client, endpoint: post_raw(client, NUMBER_ENDPOINT, twelve_ones_and_one()),
    "unsupported_media_type": lambda client, endpoint: post_raw(client, endpoint, b"text", "text/plain"),
    "missing_image": lambda client, endpoint: post_raw(client, endpoint, b""),
    "invalid_parameter": lambda client, endpoint: post_raw(client, f"{endpoint}?preview=2", b""),
    "method_not_allowed": lambda client, endpoint: client.get(endpoint),
    "not_found": lambda client, endpoint: client.get(endpoint + "/nowhere"),
}
"""A request that gets each error code."""


@pytest.mark.parametrize("code", sorted(ERRORS))
def test_every_error_message_is_one_sentence_with_a_capital_and_a_full_stop(client, endpoint, code):
    response = ERRORS[code](client, endpoint)
    error = response.get_json()["error"]
    assert error["code"] == code
    assert SENTENCE.match(error["message"]), error["message"]


# Multipart forms


def form_in_layout(png, preamble=b"", epilogue=b"\r\n", line_break=b"\r\n",
                   headers=(b'Content-Disposition: form-data; name="image"; filename="digit.png"',
                            b"Content-Type: image/png")):
    """Build a one-file form with the boundary "BOUNDARY", in a layout some client might send."""
    return (preamble + b"--BOUNDARY" + line_break + line_break.join(headers) + line_break * 2 + png
            + line_break + b"--BOUNDARY--" + epilogue)


FORM_LAYOUTS = {
    "common": {},
    "preamble": {"preamble": b"This is a preamble.\r\n"},
    "epilogue_text": {"epilogue": b"\r\nsome epilogue\r\n"},
    "no_epilogue_line_break": {"epilogue": b""},
    "bare_lf_line_breaks": {"line_break": b"\n"},
    "header_names_in_other_case": {"headers": (b'content-disposition: form-data; name="image"; filename="a.png"',
                                               b"CONTENT-TYPE: image/png")},
    "folded_header": {"headers": (b"Content-Disposition: form-data;", b' name="image"; filename="a.png"')},
    "no_content_type": {"headers": (b'Content-Disposition: form-data; name="image"; filename="a.png"',)},
    "utf8_file_name": {"headers": ('Content-Disposition: form-data; name="image"; filename="sept-\u00e9.png"'.encode(),)},
    "rfc2231_file_name": {"headers": (b'Content-Disposition: form-data; name="image"; filename="a.png"; '
                                      b"filename*=UTF-8''d%C3%AFgit.png",)},
}
"""Valid one-file forms as browsers, curl, requests and other clients may lay them out."""


@pytest.mark.parametrize("layout", FORM_LAYOUTS.values(), ids=FORM_LAYOUTS.keys())
def test_a_form_in_any_valid_layout_is_read(client, endpoint, layout):
    assert_prediction(post_form(client, endpoint, form_in_layout(encode_image(dark_on_light()), **layout)), digit=1)


def test_a_form_field_without_a_file_name_is_not_a_file(client, endpoint):
    body = form_in_layout(encode_image(dark_on_light()), headers=(b'Content-Disposition: form-data; name="image"',))
    assert_error(post_form(client, endpoint, body), 400, "missing_image", "no file in the field 'image'")


def test_other_files_beside_the_image_field_are_ignored(client, endpoint):
    png = encode_image(dark_on_light())
    body = multipart_body([(b"thumbnail", b"t.png", b"image/png", b"not read"),
                           (b"image", b"digit.png", b"image/png", png),
                           (b"extra", b"e.txt", b"text/plain", b"hello")])
    assert_prediction(post_form(client, endpoint, body), digit=1)


@pytest.mark.parametrize(
    ("name", "filename"),
    [(b"\xff\xfeimage", b"digit.png"), (b"image", b"\xff\xfe.png")],
    ids=["field_name", "file_name"],
)
def test_a_form_with_names_that_are_not_utf8_is_refused(client, endpoint, name, filename):
    body = multipart_body([(name, filename, b"image/png", encode_image(dark_on_light()))])
    assert_error(post_form(client, endpoint, body), 400, "invalid_form")


def test_a_form_cut_short_is_refused(client, endpoint):
    body = multipart_body([(b"image", b"digit.png", b"image/png", encode_image(dark_on_light()))])
    assert_error(post_form(client, endpoint, body[: len(body) // 2]), 400, "invalid_form")


def test_a_form_without_a_boundary_is_refused(client, endpoint):
    body = multipart_body([(b"image", b"digit.png", b"image/png", b"x")])
    assert_error(client.post(endpoint, data=body, content_type="multipart/form-data"), 400, "invalid_form")


# Pen strokes (the JSON key and the form field "strokes")

BAD_STROKES = {
    "text": "1,2 3,4", "object": {"points": []}, "flat": [1, 2], "points_not_in_strokes": [[1, 2]],
    "short_point": [[[1]]], "long_point": [[[1, 2, 3]]], "string_coordinate": [[["1", 2]]],
    "boolean_coordinate": [[[False, 2]]], "null_coordinate": [[[None, 2]]], "empty_stroke": [[]],
    "huge_integer": [[[10**400, 2]]],
}


def json_with_strokes(strokes_json):
    image = base64.b64encode(encode_image(dark_on_light())).decode()
    return ('{"image": "data:image/png;base64,%s", "strokes": %s}' % (image, strokes_json)).encode()


@pytest.mark.parametrize("strokes", BAD_STROKES.values(), ids=BAD_STROKES.keys())
def test_strokes_that_are_not_lists_of_points_are_refused(client, endpoint, strokes):
    body = json_with_strokes(json.dumps(strokes))
    assert_error(post_raw(client, endpoint, body, "application/json"), 400, "invalid_strokes", "[x, y]")


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_coordinates_that_are_not_finite_are_refused(client, endpoint, number):
    body = json_with_strokes("[[[%s, 2]]]" % number)
    assert_error(post_raw(client, endpoint, body, "application/json"), 400, "invalid_strokes")


@pytest.mark.parametrize(("strokes_json", "limit"), [
    ("[" + ",".join(["[[1, 2]]"] * 201) + "]", "MAX_STROKES"),
    ("[[" + ",".join(["[1, 2]"] * 20_001) + "]]", "MAX_STROKE_POINTS"),
], ids=["strokes", "points"])
def test_too_many_strokes_or_points_are_refused_naming_the_limit(client, endpoint, strokes_json, limit):
    body = json_with_strokes(strokes_json)
    assert_error(post_raw(client, endpoint, body, "application/json"), 422, "too_many_strokes", limit)


def test_strokes_deep_in_nested_lists_are_refused(client, endpoint):
    body = json_with_strokes("[" * 50 + "]" * 50)
    assert_error(post_raw(client, endpoint, body, "application/json"), 400, "invalid_strokes")


def test_null_strokes_are_no_strokes(client, endpoint):
    assert_prediction(post_raw(client, endpoint, json_with_strokes("null"), "application/json"), 1)


def test_strokes_far_outside_the_image_are_clipped(client, endpoint):
    body = json_with_strokes("[[[-1e300, -5], [1e300, 1e9]]]")
    assert_prediction(post_raw(client, endpoint, body, "application/json"), 1)


@pytest.mark.parametrize("text", ["", "[[[1, 2]", "not json", "[" * 100_000])
def test_a_strokes_form_field_that_is_not_json_of_strokes_is_refused(client, endpoint, text):
    body = multipart_body([(b"image", b"digit.png", b"image/png", encode_image(dark_on_light()))])
    body = body.replace(b"--BOUNDARY--", b"--BOUNDARY\r\nContent-Disposition: form-data; name=\"strokes\""
                        b"\r\n\r\n" + text.encode() + b"\r\n--BOUNDARY--")
    assert_error(post_form(client, endpoint, body), 400, "invalid_strokes")


def test_two_strokes_form_fields_are_refused(client, endpoint):
    body = multipart_body([(b"image", b"digit.png", b"image/png", encode_image(dark_on_light()))])
    field = b"--BOUNDARY\r\nContent-Disposition: form-data; name=\"strokes\"\r\n\r\n[]\r\n"
    body = body.replace(b"--BOUNDARY--", field + field + b"--BOUNDARY--")
    assert_error(post_form(client, endpoint, body), 400, "invalid_strokes", "send one")


# Methods


@pytest.mark.parametrize("method", ["TRACE", "PROPFIND", "CONNECT"])
def test_predict_refuses_other_methods_with_a_json_405(client, endpoint, method):
    response = client.open(endpoint, method=method)
    assert_error(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]


def test_head_on_predict_is_a_405_without_a_body(client, endpoint):
    response = client.head(endpoint)
    assert response.status_code == 405
    assert response.get_data() == b""


# Unknown paths: a page for a browser, JSON for a program

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
"""The Accept header Chromium sends when it opens a page."""

ASSET_LINK = re.compile(r'<(?:link|script)\b[^>]*?(?:href|src)="([^"]+)"')


def test_a_browser_opening_an_unknown_page_gets_the_sites_error_page(client):
    response = client.get("/no/such/page", headers={"Accept": BROWSER_ACCEPT})
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "<title>Page not found</title>" in page
    assert "There is no page at /no/such/page." in page
    assert 'class="site-nav"' in page, "the page extends base.html"
    assert "<script>" not in page and " style=" not in page, "nothing inline for the CSP to block"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


def test_the_error_page_loads_only_the_sites_own_assets(client):
    page = client.get("/no/such/page", headers={"Accept": BROWSER_ACCEPT}).get_data(as_text=True)
    assets = ASSET_LINK.findall(page)
    assert "/static/style.css" in assets
    for asset in assets:
        assert asset.startswith("/static/")
        with client.get(asset) as response:
            assert response.status_code == 200


@pytest.mark.parametrize("path", ["/predict/nope", "/predict/number/nope", "/healthz/nope", "/openapi.json/nope"])
def test_an_unknown_path_under_the_api_answers_json_even_to_a_browser(client, path):
    response = client.get(path, headers={"Accept": BROWSER_ACCEPT})
    assert_error(response, 404, "not_found")


def test_a_browser_opening_an_api_endpoint_gets_its_json_error(client, endpoint):
    response = client.get(endpoint, headers={"Accept": BROWSER_ACCEPT})
    assert_error(response, 405, "method_not_allowed")


@pytest.mark.parametrize("accept", [None, "*/*", "application/json", "application/json, text/html;q=0.5"],
                         ids=["no_accept", "anything", "json", "json_first"])
def test_a_program_asking_for_an_unknown_path_gets_json(client, accept):
    headers = {} if accept is None else {"Accept": accept}
    assert_error(client.get("/no/such/page", headers=headers), 404, "not_found")


# Over a socket, against the real gunicorn


def send_request(base_url, head, body_chunks=()):
    """Send `head` then stream `body_chunks`; return (response bytes, seconds until the server closed).

    The body is sent from a thread, as a client would, and stops quietly when
    the server closes the connection.
    """
    address = urllib.parse.urlsplit(base_url)
    with socket.create_connection((address.hostname, address.port), timeout=SOCKET_TIMEOUT_S) as connection:
        connection.sendall(head)

        def send_body():
            try:
                for chunk in body_chunks:
                    connection.sendall(chunk)
            except OSError:
                pass  # the server answered and closed: the rest is not wanted

        sender = threading.Thread(target=send_body, daemon=True)
        sender.start()
        started = time.monotonic()
        response = b""
        while chunk := connection.recv(65536):
            response += chunk
        closed_after = time.monotonic() - started
        sender.join(SOCKET_TIMEOUT_S)
    return response, closed_after


def request_head(endpoint, *headers):
    """Return the request line and headers of a POST to `endpoint`, up to the blank line."""
    return b"\r\n".join([b"POST %s HTTP/1.1" % endpoint.encode(), b"Host: localhost", *headers, b"", b""])


def status_of(response):
    return int(response.split(b" ", 2)[1])


def error_of(response):
    return json.loads(response.partition(b"\r\n\r\n")[2])["error"]


@pytest.mark.parametrize("length_header", [[b"Content-Length: 0"], []], ids=["length_0", "no_length"])
def test_an_empty_post_without_a_content_type_is_a_missing_image_on_the_wire(endpoint, live_server, length_header):
    head = request_head(endpoint, b"Connection: close", *length_header)
    response, _ = send_request(live_server, head)
    assert status_of(response) == 400
    assert error_of(response)["code"] == "missing_image"


def test_a_body_over_the_limit_gets_413_and_the_connection_closes(endpoint, live_server, app):
    size = app.config["MAX_CONTENT_LENGTH"] + 1_000_000
    head = request_head(endpoint, b"Content-Type: image/png", b"Content-Length: %d" % size)
    chunk = bytes(65536)
    response, closed_after = send_request(live_server, head, [chunk] * (size // len(chunk)))
    assert status_of(response) == 413
    assert error_of(response)["code"] == "payload_too_large"
    assert limit_named(app) in error_of(response)["message"]
    assert closed_after < SOCKET_TIMEOUT_S


def test_a_chunked_body_over_the_limit_gets_413_not_a_truncated_image(endpoint, live_server, app):
    head = request_head(endpoint, b"Content-Type: image/png", b"Transfer-Encoding: chunked")
    png = encode_image(dark_on_light())
    padding = bytes(65536)
    chunks = [b"%x\r\n%s\r\n" % (len(png), png)]
    chunks += [b"%x\r\n%s\r\n" % (len(padding), padding)] * (app.config["MAX_CONTENT_LENGTH"] // len(padding) + 1)
    response, _ = send_request(live_server, head, [*chunks, b"0\r\n\r\n"])
    assert status_of(response) == 413
    assert error_of(response)["code"] == "payload_too_large"
    assert limit_named(app) in error_of(response)["message"]


def test_a_malformed_chunked_body_is_a_400_not_a_server_error(endpoint, live_server):
    head = request_head(endpoint, b"Content-Type: image/png", b"Transfer-Encoding: chunked")
    response, _ = send_request(live_server, head, [b"zz\r\nnot a chunk size\r\n0\r\n\r\n"])
    assert status_of(response) == 400
    assert error_of(response)["code"] == "invalid_body"


# POST /corrections: every malformed field gets its own clear 4xx, and nothing is stored


def correction_body(**changes):
    """A valid correction of a drawn 1, with fields replaced, or removed where the value is `...`."""
    body = {"image": "data:image/png;base64," + base64.b64encode(encode_image(dark_on_light())).decode(),
            "strokes": [[[140, 40], [140, 240]]], "answer": "7", "model": "mlp-test-1", "label": "1"}
    body.update(changes)
    return {name: value for name, value in body.items() if value is not ...}


@pytest.fixture(scope="module")
def corrections_client(tmp_path_factory):
    """A client of an app whose rate limit never gets in the way of this matrix."""
    database = tmp_path_factory.mktemp("corrections") / "corrections.sqlite3"
    return create_app({"TESTING": True, "DATABASE_URL": sqlite_url(database),
                       "CORRECTIONS_PER_MINUTE": 1_000_000}).test_client()


JPEG_DATA_URL = "data:image/jpeg;base64," + base64.b64encode(encode_image(dark_on_light(), "JPEG")).decode()

BAD_CORRECTIONS = {
    "label_letters": ({"label": "7a"}, 422, "invalid_label"),
    "label_empty": ({"label": ""}, 422, "invalid_label"),
    "label_number": ({"label": 7}, 422, "invalid_label"),
    "label_missing": ({"label": ...}, 422, "invalid_label"),
    "label_other_script_digits": ({"label": "\u0663"}, 422, "invalid_label"),
    "label_too_long": ({"label": "1" * 13}, 422, "invalid_label"),
    "label_spaces": ({"label": " 7"}, 422, "invalid_label"),
    "image_missing": ({"image": ...}, 400, "missing_image"),
    "image_not_base64": ({"image": "%%%"}, 400, "invalid_base64"),
    "image_jpeg": ({"image": JPEG_DATA_URL}, 400, "invalid_image"),
    "image_not_an_image": ({"image": base64.b64encode(b"\x89PNG\r\n\x1a\nnot really").decode()}, 400,
                           "invalid_image"),
    "image_svg": ({"image": "data:image/svg+xml;base64,PHN2Zy8+"}, 415, "unsupported_media_type"),
    "strokes_not_a_list": ({"strokes": "1,2"}, 400, "invalid_strokes"),
    "strokes_flat_points": ({"strokes": [[1, 2]]}, 400, "invalid_strokes"),
    "strokes_three_numbers": ({"strokes": [[[1, 2, 3]]]}, 400, "invalid_strokes"),
    "strokes_a_string": ({"strokes": [[["1", 2]]]}, 400, "invalid_strokes"),
    "strokes_a_boolean": ({"strokes": [[[True, 2]]]}, 400, "invalid_strokes"),
    "strokes_a_huge_integer": ({"strokes": [[[10**400, 2]]]}, 400, "invalid_strokes"),
    "strokes_too_many": ({"strokes": [[[1, 1]]] * 201}, 422, "too_many_strokes"),
    "strokes_too_many_points": ({"strokes": [[[1, 1]] * 20_001]}, 422, "too_many_strokes"),
    "answer_missing": ({"answer": ...}, 400, "invalid_answer"),
    "answer_letters": ({"answer": "seven"}, 400, "invalid_answer"),
    "model_missing": ({"model": ...}, 400, "invalid_model"),
    "model_with_spaces": ({"model": "a model"}, 400, "invalid_model"),
}
"""Malformed corrections, each with the status and code it gets."""


@pytest.mark.parametrize(("change", "status", "code"), BAD_CORRECTIONS.values(), ids=BAD_CORRECTIONS.keys())
def test_a_malformed_correction_gets_its_error(corrections_client, change, status, code):
    assert_error(corrections_client.post("/corrections", json=correction_body(**change)), status, code)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_strokes_that_are_not_finite_are_refused(corrections_client, literal):
    body = json.dumps(correction_body(strokes=[[[0, 0]]])).replace("[[[0, 0]]]", f"[[[{literal}, 0]]]")
    assert literal in body
    assert_error(post_raw(corrections_client, "/corrections", body, "application/json"), 400, "invalid_strokes")


@pytest.mark.parametrize("label", ["0", "007", "1" * 12, None], ids=["zero", "leading_zeros", "longest", "not_a_digit"])
def test_every_well_formed_label_is_accepted(corrections_client, label):
    assert corrections_client.post("/corrections", json=correction_body(label=label)).status_code == 201


@pytest.mark.parametrize(("body", "content_type"), [(b"", "application/json"), (b"[1]", "application/json"),
                                                    (b"{", "application/json")], ids=["empty", "array", "cut"])
def test_a_correction_that_is_not_a_json_object_is_refused(corrections_client, body, content_type):
    assert_error(post_raw(corrections_client, "/corrections", body, content_type), 400, "invalid_json")


def test_a_correction_sent_as_an_image_is_an_unsupported_type(corrections_client):
    assert_error(post_raw(corrections_client, "/corrections", encode_image(dark_on_light())), 415, "unsupported_media_type")


def test_a_correction_over_the_size_limit_is_refused_naming_the_limit(corrections_client, app):
    oversized = json.dumps(correction_body(image="A" * app.config["MAX_CONTENT_LENGTH"]))
    assert_error(post_raw(corrections_client, "/corrections", oversized, "application/json"), 413, "payload_too_large",
                 limit_named(app))


def test_a_correction_image_over_the_pixel_limit_is_refused(corrections_client):
    bomb = encode_image(Image.new("L", (5_000, 5_000), 255), compress_level=9)
    assert_error(corrections_client.post("/corrections", json=correction_body(image=base64.b64encode(bomb).decode())),
                 422, "too_many_pixels")


def test_a_browser_opening_the_corrections_endpoint_gets_its_json_error(corrections_client):
    assert_error(corrections_client.get("/corrections", headers={"Accept": BROWSER_ACCEPT}), 405, "method_not_allowed")
