"""POST /predict/number: a whole number on one canvas, every field, error and limit."""

import base64
import io

import pytest
from PIL import Image

from app import create_app
from bench.support.digits import number_png
from bench.support.drawing import encode_image
from model.constants import N_CLASSES


def post_png(client, data, query=""):
    return client.post(f"/predict/number{query}", data=data, content_type="image/png")


def assert_error(response, status, code):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    assert response.get_json()["error"]["code"] == code


def test_a_number_is_read_digit_by_digit(client):
    body = post_png(client, number_png("42")).get_json()
    assert body["number"] == "42"
    assert [digit["digit"] for digit in body["digits"]] == [4, 2]


def test_the_answer_has_the_documented_fields(client, app):
    body = post_png(client, number_png("17")).get_json()
    assert set(body) == {"number", "confident", "digits", "model"}
    assert body["model"] == app.extensions["digit_model"].version
    for digit in body["digits"]:
        assert set(digit) == {"digit", "confidence", "confident", "is_digit", "probabilities", "box"}
        assert len(digit["probabilities"]) == N_CLASSES
        assert digit["confidence"] == max(digit["probabilities"])
        assert len(digit["box"]) == 4 and all(isinstance(value, int) for value in digit["box"])


def test_leading_zeros_are_kept(client):
    assert post_png(client, number_png("007")).get_json()["number"] == "007"


def test_boxes_are_ordered_left_to_right_inside_the_upload(client):
    data = number_png("1047")
    width, height = Image.open(io.BytesIO(data)).size
    boxes = [digit["box"] for digit in post_png(client, data).get_json()["digits"]]
    assert [box[0] for box in boxes] == sorted(box[0] for box in boxes)
    for left, top, box_width, box_height in boxes:
        assert left + box_width <= width and top + box_height <= height


def test_clear_digits_make_a_confident_number(client, confident_from):
    body = post_png(client, number_png("42")).get_json()
    assert all(digit["confidence"] >= confident_from for digit in body["digits"])
    assert body["confident"] is True


@pytest.mark.parametrize("style", ["transparent", "white", "black"])
def test_every_image_style_reads_the_same(client, style):
    assert post_png(client, number_png("42", style)).get_json()["number"] == "42"


def test_the_same_three_request_forms_as_predict(client):
    data = number_png("42")
    form = client.post("/predict/number", data={"image": (io.BytesIO(data), "n.png", "image/png")},
                       content_type="multipart/form-data")
    json_body = client.post("/predict/number", json={
        "image": "data:image/png;base64," + base64.b64encode(data).decode("ascii")})
    assert form.get_json()["number"] == json_body.get_json()["number"] == "42"


def test_preview_adds_each_digits_network_input(client):
    digits = post_png(client, number_png("42"), "?preview=1").get_json()["digits"]
    assert all(digit["preview"].startswith("data:image/png;base64,") for digit in digits)


def test_a_blank_canvas_has_no_ink(client):
    assert_error(post_png(client, encode_image(Image.new("RGBA", (280, 280)))), 422, "no_ink")


def test_more_marks_than_max_digits_are_refused_naming_the_limit():
    client = create_app({"TESTING": True, "MAX_DIGITS": 3}).test_client()
    response = post_png(client, number_png("1111"))
    assert_error(response, 422, "too_many_digits")
    assert "3" in response.get_json()["error"]["message"]


def test_exactly_max_digits_marks_are_read():
    client = create_app({"TESTING": True, "MAX_DIGITS": 4}).test_client()
    assert post_png(client, number_png("1111")).get_json()["number"] == "1111"


def test_predict_flags_a_drawing_of_several_digits_as_not_confident(client):
    body = client.post("/predict", data=number_png("42"), content_type="image/png").get_json()
    assert body["confident"] is False


def test_predict_stays_confident_for_one_clear_digit(client):
    body = client.post("/predict", data=number_png("4"), content_type="image/png").get_json()
    assert body["digit"] == 4 and body["confident"] is True and body["is_digit"] is True
