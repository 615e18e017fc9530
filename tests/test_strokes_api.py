"""The pen strokes of a drawing through the real gunicorn: the JSON and form fields, their limits and errors.

Every request goes over HTTP to the Procfile's web process; drawings are
made here from pen strokes, and the same strokes, in pixels of the PNG,
go with them.
"""

import base64
import json
import urllib.error
import urllib.request

import pytest

from bench.support.drawing import encode_image, encode_style
from model.constants import CANVAS_HEIGHT
from model.training.handwriting import render_strokes
from tests.test_segment import four_in_two_strokes, marks_in, one, seven, three, two
from tests.test_strokes import ink_of

TOUCHING_23 = two(30) + three(30 + 80)
"""A 2 and a 3 whose inks touch: one mark for the pixels, two pen lifts apart for the strokes."""

WIDTH = 260


def png(strokes, width=WIDTH):
    return encode_image(encode_style(render_strokes(strokes, size=(width, CANVAS_HEIGHT)), "transparent"))


def data_url(data):
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def post(url, body, content_type):
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def post_json(url, payload):
    return post(url, json.dumps(payload).encode(), "application/json")


def post_form(url, image, strokes_text):
    boundary = "STROKES"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"d.png\"\r\n"
            "Content-Type: image/png\r\n\r\n").encode() + image + (
        f"\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"strokes\"\r\n\r\n"
        f"{strokes_text}\r\n--{boundary}--\r\n").encode()
    return post(url, body, f"multipart/form-data; boundary={boundary}")


def test_touching_digits_are_one_mark_in_the_image():
    assert marks_in(ink_of(TOUCHING_23, WIDTH)) == 1


def test_touching_digits_sent_with_their_strokes_are_read_apart(live_server):
    status, body = post_json(f"{live_server}/predict/number",
                             {"image": data_url(png(TOUCHING_23)), "strokes": TOUCHING_23})
    assert status == 200, body
    assert body["number"] == "23"
    assert set(body) == {"number", "confident", "digits", "model"}, "the answer's shape is unchanged"
    assert all(len(digit["box"]) == 4 for digit in body["digits"])


def test_the_form_takes_the_strokes_as_json_in_its_field(live_server):
    status, body = post_form(f"{live_server}/predict/number", png(TOUCHING_23), json.dumps(TOUCHING_23))
    assert status == 200, body
    assert body["number"] == "23"


def test_predict_with_the_strokes_of_a_number_says_it_is_not_one_confident_digit(live_server):
    status, body = post_json(f"{live_server}/predict",
                             {"image": data_url(png(TOUCHING_23)), "strokes": TOUCHING_23})
    assert status == 200, body
    assert body["confident"] is False


def test_a_two_stroke_four_with_its_strokes_is_one_digit(live_server):
    strokes = four_in_two_strokes(90)
    status, body = post_json(f"{live_server}/predict/number",
                             {"image": data_url(png(strokes, CANVAS_HEIGHT)), "strokes": strokes})
    assert status == 200, body
    assert body["number"] == "4"


def test_strokes_of_another_drawing_fall_back_on_the_pixels(live_server):
    image = png(one(40) + seven(120))
    without = post(f"{live_server}/predict/number", image, "image/png")
    status, body = post_json(f"{live_server}/predict/number",
                             {"image": data_url(image), "strokes": four_in_two_strokes(20)})
    assert status == 200, body
    assert body["number"] == without[1]["number"] == "17"


def test_points_outside_the_image_are_clipped_not_refused(live_server):
    strokes = [[[-500, 140], [1e6, 140]]]
    status, body = post_json(f"{live_server}/predict/number",
                             {"image": data_url(png(one(40) + seven(120))), "strokes": strokes})
    assert status == 200, body


@pytest.mark.parametrize("strokes", [
    "a line", {"x": 1}, [[1, 2]], [[[1]]], [[[1, 2, 3]]], [[["1", 2]]], [[[True, 2]]], [[]],
    [[[1, None]]],
], ids=["text", "object", "flat_points", "one_number", "three_numbers", "string", "boolean",
        "empty_stroke", "null"])
def test_strokes_that_are_not_lists_of_points_are_refused(live_server, strokes):
    status, body = post_json(f"{live_server}/predict/number",
                             {"image": data_url(png(one(40))), "strokes": strokes})
    assert status == 400, body
    assert body["error"]["code"] == "invalid_strokes"


def test_non_finite_coordinates_are_refused(live_server):
    body = ('{"image": "%s", "strokes": [[[1e999, 2]]]}' % data_url(png(one(40)))).encode()
    status, answer = post(f"{live_server}/predict/number", body, "application/json")
    assert status == 400, answer
    assert answer["error"]["code"] == "invalid_strokes"


def test_a_form_field_that_is_not_json_is_refused(live_server):
    status, body = post_form(f"{live_server}/predict", png(one(40)), "[[[1, 2]")
    assert status == 400, body
    assert body["error"]["code"] == "invalid_strokes"


@pytest.mark.parametrize(("strokes", "limit"), [
    ([[[1, 2]]] * 201, "MAX_STROKES"),
    ([[[1, 2]] * 10_001] * 2, "MAX_STROKE_POINTS"),
], ids=["strokes", "points"])
def test_more_strokes_or_points_than_the_limits_are_refused_naming_the_limit(live_server, strokes, limit):
    status, body = post_json(f"{live_server}/predict/number",
                             {"image": data_url(png(one(40))), "strokes": strokes})
    assert status == 422, body
    assert body["error"]["code"] == "too_many_strokes"
    assert limit in body["error"]["message"]


def test_the_limits_are_set_by_environment_variables(start_server):
    server = start_server({"MAX_STROKES": "2"})
    server.wait_until_healthy()
    status, body = post_json(f"{server.base_url}/predict",
                             {"image": data_url(png(one(40))), "strokes": one(40) * 3})
    assert status == 422, body
    assert "at most 2" in body["error"]["message"]
