"""The form reader for the common layout reads what Werkzeug's parser reads, and leaves it every other form.

`single_image_part` saves /predict the regular expressions Werkzeug
compiles for every new boundary. It must either give the very bytes that
Werkzeug's parser gives for the field "image", or give None so that
Werkzeug parses the form: never a third answer.
"""

import io

import pytest
from werkzeug.formparser import FormDataParser

from app.uploads import IMAGE_FIELD, single_image_part

BOUNDARY = "----WebKitFormBoundaryq8R3vTzXmK2pLw9s"
PNG_LIKE = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) + b"\r\n\r\n--not-the-boundary\r\n" + b"\x00" * 64


def form(parts, boundary=BOUNDARY, preamble=b"", epilogue=b"\r\n", line_break=b"\r\n"):
    """Build a multipart body from (header lines, content) parts, as raw bytes."""
    delimiter = b"--" + boundary.encode("ascii")
    body = preamble
    for headers, content in parts:
        body += delimiter + line_break + line_break.join(headers) + line_break * 2 + content + line_break
    return body + delimiter + b"--" + epilogue


def file_part(content=PNG_LIKE, name=b"image", filename=b'"blob"', content_type=b"image/png"):
    headers = [b'Content-Disposition: form-data; name="' + name + b'"; filename=' + filename]
    if content_type is not None:
        headers.append(b"Content-Type: " + content_type)
    return headers, content


def werkzeug_images(body, boundary=BOUNDARY):
    """The reference: every file in the field "image", as Werkzeug's own parser reads the form."""
    parser = FormDataParser(stream_factory=lambda *_args, **_kwargs: io.BytesIO(), silent=False)
    _, _, files = parser.parse(io.BytesIO(body), "multipart/form-data", len(body), {"boundary": boundary})
    return [image.read() for image in files.getlist(IMAGE_FIELD)]


COMMON_FORMS = {
    "chromium_form_data": form([file_part()]),
    "curl_dash_f": form(
        [file_part(filename=b'"digit.png"')], boundary="------------------------d74496d66958873e"
    ),
    "python_requests": form(
        [([b'Content-Disposition: form-data; name="image"; filename="digit.png"'], PNG_LIKE)],
        boundary="9f3b1c1e2d7a4b0c8e6f5a4d3c2b1a09",
    ),
    "no_epilogue_line_break": form([file_part()], epilogue=b""),
    "header_names_in_other_case": form(
        [([b'content-disposition: form-data; name="image"; filename="a.png"', b"CONTENT-TYPE: image/png"], PNG_LIKE)]
    ),
    "utf8_file_name": form([file_part(filename="\"chiffre-sept-\u00e9.png\"".encode())]),
    "rfc2231_file_name": form([file_part(filename=b"\"a.png\"; filename*=UTF-8''d%C3%AFgit.png")]),
    "content_ending_in_line_breaks": form([file_part(content=b"abc\r\n\r\n")]),
    "content_ending_in_a_carriage_return": form([file_part(content=b"abc\r")]),
    "empty_file": form([file_part(content=b"")]),
}
"""Forms in the layout the fast reader takes: it must read each, exactly as Werkzeug does."""

OTHER_FORMS = {
    "preamble": form([file_part()], preamble=b"This is a preamble.\r\n"),
    "bare_lf_line_breaks": form([file_part()], line_break=b"\n"),
    "two_parts": form([file_part(name=b"thumbnail"), file_part()]),
    "two_images": form([file_part(), file_part(content=b"second")]),
    "field_without_file_name": form([([b'Content-Disposition: form-data; name="image"'], b"data")]),
    "other_field_name": form([file_part(name=b"picture")]),
    "boundary_inside_the_content": form([file_part(content=b"x--" + BOUNDARY.encode() + b"y")]),
    "folded_header": form(
        [([b"Content-Disposition: form-data;", b' name="image"; filename="a.png"'], PNG_LIKE)]
    ),
    "no_content_disposition": form([([b"Content-Type: image/png"], PNG_LIKE)]),
    "cut_short": form([file_part()])[:-40],
    "epilogue_text": form([file_part()], epilogue=b"\r\nsome epilogue\r\n"),
    "whitespace_after_delimiter": form([file_part()]).replace(
        b"--" + BOUNDARY.encode() + b"\r\n", b"--" + BOUNDARY.encode() + b"  \r\n", 1
    ),
}
"""Forms outside that layout, valid or not: the fast reader must leave each to Werkzeug."""


@pytest.mark.parametrize("body", COMMON_FORMS.values(), ids=COMMON_FORMS.keys())
def test_a_form_in_the_common_layout_is_read_as_werkzeug_reads_it(body):
    boundary = body[2 : body.index(b"\r\n")].decode("ascii")
    data = single_image_part(body, boundary)
    assert data is not None, "the common layout is read without Werkzeug"
    assert [data] == werkzeug_images(body, boundary)


@pytest.mark.parametrize("body", OTHER_FORMS.values(), ids=OTHER_FORMS.keys())
def test_any_other_form_is_left_to_werkzeug(body):
    assert single_image_part(body, BOUNDARY) is None


@pytest.mark.parametrize("boundary", ["", "gr\u00fc\u00dfe"], ids=["empty", "not_ascii"])
def test_a_missing_or_non_ascii_boundary_is_left_to_werkzeug(boundary):
    assert single_image_part(form([file_part()]), boundary) is None


def test_a_boundary_other_than_the_declared_one_is_left_to_werkzeug():
    assert single_image_part(form([file_part()]), "another-boundary") is None
