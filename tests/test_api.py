"""The JSON API: /predict in each request form, every error, /healthz, /openapi.json."""

import base64
import io

import numpy as np
import pytest
from PIL import Image

from app import create_app
from bench.support.digits import DIGIT_STROKES, digit_png
from bench.support.drawing import draw_image, draw_png, encode_image
from model.constants import IMAGE_SIDE, N_CLASSES

SCRIBBLE = [
    stroke
    for offset in range(0, 200, 40)
    for stroke in ([(40 + offset, 40), (240 - offset, 240)], [(40, 40 + offset), (240, 240 - offset)])
]
"""Crossing lines over the whole canvas: ink, but no digit."""


def draw_digit(shape, style="transparent"):
    """Draw the digit `shape` ("0" or "1") as the page's canvas would, in one of the API's styles."""
    return draw_image(DIGIT_STROKES[int(shape)], style)


@pytest.fixture()
def one_png():
    return digit_png(1)


def multipart(data, field="image", filename="digit.png"):
    return {"data": {field: (io.BytesIO(data), filename, "image/png")},
            "content_type": "multipart/form-data"}


def as_data_url(data, mimetype="image/png"):
    return f"data:{mimetype};base64,{base64.b64encode(data).decode('ascii')}"


def assert_error(response, status, code):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]


@pytest.mark.parametrize("style", ["transparent", "white", "black"])
@pytest.mark.parametrize("shape", ["0", "1"])
def test_predict_recognises_a_drawn_digit_in_each_style(client, shape, style):
    response = client.post("/predict", **multipart(encode_image(draw_digit(shape, style))))
    assert response.status_code == 200
    assert response.get_json()["digit"] == int(shape)


def test_predict_answer_has_the_documented_fields(client, one_png):
    body = client.post("/predict", **multipart(one_png)).get_json()
    assert set(body) == {"digit", "confidence", "confident", "is_digit", "probabilities", "model"}
    probabilities = np.array(body["probabilities"])
    assert probabilities.shape == (N_CLASSES,)
    assert np.all((probabilities >= 0) & (probabilities <= 1))
    assert probabilities.sum() == pytest.approx(1.0, abs=1e-4)
    assert body["digit"] == int(np.argmax(probabilities))
    assert body["confidence"] == pytest.approx(probabilities.max())


def test_predict_is_confident_about_a_clear_digit(client, one_png, confident_from):
    body = client.post("/predict", **multipart(one_png)).get_json()
    assert body["confidence"] >= confident_from
    assert body["confident"] is True


def test_predict_flags_a_scribble_as_unsure(client, confident_from):
    body = client.post("/predict", **multipart(draw_png(SCRIBBLE, "black"))).get_json()
    assert body["confident"] is (body["confidence"] >= confident_from)
    assert body["confident"] is False


def test_predict_names_the_model_that_healthz_reports(client, one_png):
    body = client.post("/predict", **multipart(one_png)).get_json()
    assert body["model"] == client.get("/healthz").get_json()["model"]


@pytest.mark.parametrize("mimetype", ["image/png", "image/jpeg", "image/webp", "image/gif", "image/bmp"])
def test_predict_accepts_a_raw_image_body(client, mimetype):
    image_format = mimetype.split("/")[1].upper()
    image = draw_digit("1", "white")
    data = encode_image(image, image_format)
    response = client.post("/predict", data=data, content_type=mimetype)
    assert response.status_code == 200
    assert response.get_json()["digit"] == 1


@pytest.mark.parametrize("encode", [as_data_url, lambda data: base64.b64encode(data).decode()],
                         ids=["data_url", "bare_base64"])
def test_predict_accepts_json_with_a_base64_image(client, one_png, encode):
    response = client.post("/predict", json={"image": encode(one_png)})
    assert response.status_code == 200
    assert response.get_json()["digit"] == 1


def test_every_request_form_gives_the_same_answer(client, one_png):
    answers = [
        client.post("/predict", **multipart(one_png)).get_json(),
        client.post("/predict", data=one_png, content_type="image/png").get_json(),
        client.post("/predict", json={"image": as_data_url(one_png)}).get_json(),
    ]
    assert answers[0] == answers[1] == answers[2]


def test_preview_is_the_28x28_network_input_as_a_png_data_url(client, one_png):
    body = client.post("/predict?preview=1", **multipart(one_png)).get_json()
    header, _, encoded = body["preview"].partition(",")
    assert header == "data:image/png;base64"
    preview = Image.open(io.BytesIO(base64.b64decode(encoded)))
    assert preview.size == (IMAGE_SIDE, IMAGE_SIDE)
    pixels = np.asarray(preview)
    assert pixels.max() > 200 and pixels[0, 0] == 0


def test_preview_is_left_out_unless_asked_for(client, one_png):
    assert "preview" not in client.post("/predict", **multipart(one_png)).get_json()


@pytest.mark.parametrize(
    ("request_kwargs", "status", "code"),
    [
        ({"data": {}, "content_type": "multipart/form-data"}, 400, "missing_image"),
        ({"data": {"picture": (io.BytesIO(b"x"), "a.png")}, "content_type": "multipart/form-data"}, 400, "missing_image"),
        ({"data": {"image": (io.BytesIO(b""), "a.png")}, "content_type": "multipart/form-data"}, 400, "missing_image"),
        ({"data": {"image": (io.BytesIO(b"hello"), "a.png")}, "content_type": "multipart/form-data"}, 400, "invalid_image"),
        ({"data": b"", "content_type": "image/png"}, 400, "missing_image"),
        ({"data": b"<html><body>not an image</body></html>", "content_type": "image/png"}, 400, "invalid_image"),
        ({"data": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "content_type": "image/png"}, 400, "invalid_image"),
        ({"data": b"[1, 2]", "content_type": "application/json"}, 400, "invalid_json"),
        ({"data": b'{"image": ', "content_type": "application/json"}, 400, "invalid_json"),
        ({"json": {"picture": "abc"}}, 400, "missing_image"),
        ({"json": {"image": 7}}, 400, "missing_image"),
        ({"json": {"image": "not base64 at all!"}}, 400, "invalid_base64"),
        ({"json": {"image": "data:image/png;base64,@@@@"}}, 400, "invalid_base64"),
        ({"json": {"image": "data:text/plain;base64,aGVsbG8="}}, 415, "unsupported_media_type"),
        ({"json": {"image": "aGVsbG8="}}, 400, "invalid_image"),
        ({"data": b"hello", "content_type": "text/plain"}, 415, "unsupported_media_type"),
        ({"data": b"<svg xmlns='http://www.w3.org/2000/svg'/>", "content_type": "image/svg+xml"}, 415, "unsupported_media_type"),
        ({"data": b"image=abc", "content_type": "application/x-www-form-urlencoded"}, 415, "unsupported_media_type"),
        ({"data": b"\x89PNG"}, 415, "unsupported_media_type"),
    ],
    ids=[
        "multipart_without_fields", "multipart_wrong_field_name", "multipart_empty_file",
        "multipart_text_file", "empty_raw_body", "html_as_png", "truncated_png",
        "json_not_an_object", "malformed_json", "json_without_image", "json_image_not_a_string",
        "bad_base64", "bad_base64_in_data_url", "data_url_not_an_image", "base64_of_text",
        "text_plain", "svg", "url_encoded_form", "no_content_type",
    ],
)
def test_predict_rejects_bad_requests_with_a_clear_error(client, request_kwargs, status, code):
    assert_error(client.post("/predict", **request_kwargs), status, code)


def test_predict_rejects_several_files_in_the_image_field(client, one_png):
    data = {"image": [(io.BytesIO(one_png), "a.png"), (io.BytesIO(one_png), "b.png")]}
    response = client.post("/predict", data=data, content_type="multipart/form-data")
    assert_error(response, 400, "multiple_images")


@pytest.mark.parametrize("style", ["transparent", "white", "black"])
def test_predict_refuses_to_guess_on_a_blank_canvas(client, style):
    assert_error(client.post("/predict", **multipart(draw_png([], style))), 422, "no_ink")


def test_predict_rejects_an_image_with_too_many_pixels():
    small_limit_app = create_app({"TESTING": True, "MAX_IMAGE_PIXELS": 100 * 100})
    response = small_limit_app.test_client().post("/predict", **multipart(digit_png(1)))
    assert_error(response, 422, "too_many_pixels")


def test_predict_rejects_a_body_over_the_size_limit(client, app):
    oversized = b"\0" * (app.config["MAX_CONTENT_LENGTH"] + 1)
    assert_error(client.post("/predict", data=oversized, content_type="image/png"),
                 413, "payload_too_large")


@pytest.mark.parametrize("method", ["get", "put", "delete", "patch"])
def test_predict_allows_only_post(client, method):
    response = getattr(client, method)("/predict")
    assert_error(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]


def test_unknown_api_path_is_a_json_404(client):
    assert_error(client.get("/no-such-thing"), 404, "not_found")


def test_healthz_reports_ok_and_the_model(client, app):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "model": app.extensions["digit_model"].version}


def test_openapi_document_describes_every_endpoint(client):
    document = client.get("/openapi.json").get_json()
    assert document["openapi"].startswith("3.")
    assert set(document["paths"]) == {"/predict", "/predict/number", "/corrections", "/healthz", "/openapi.json"}
    for path in ("/predict", "/predict/number"):
        operation = document["paths"][path]["post"]
        assert set(operation["requestBody"]["content"]) >= {
            "multipart/form-data", "image/png", "application/json"}
        assert set(operation["responses"]) == {"200", "400", "405", "408", "413", "415", "422"}


def test_openapi_document_describes_the_number_and_is_digit(client):
    schemas = client.get("/openapi.json").get_json()["components"]["schemas"]
    assert set(schemas["NumberReading"]["required"]) == {"number", "confident", "digits", "model"}
    assert "box" in schemas["DigitReading"]["required"]
    assert "is_digit" in schemas["Prediction"]["required"]
    assert "is_digit" in schemas["DigitReading"]["required"]


def test_openapi_document_states_this_apps_limits():
    limited = create_app({"TESTING": True, "MAX_CONTENT_LENGTH": 54321, "MAX_IMAGE_PIXELS": 12345, "MAX_DIGITS": 3})
    document = limited.test_client().get("/openapi.json").get_json()
    assert document["components"]["schemas"]["NumberReading"]["properties"]["digits"]["maxItems"] == 3
    predict = document["paths"]["/predict"]["post"]
    assert "54321 bytes and 12345 pixels" in predict["requestBody"]["description"]
    assert "54321" in predict["responses"]["413"]["description"]
