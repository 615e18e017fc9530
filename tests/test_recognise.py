"""model.recognise: from upload bytes to digits, for one digit and for a number."""

import numpy as np
import pytest
from PIL import Image

import model
from bench.support.digits import number_png
from bench.support.drawing import encode_image
from model.preprocess import NoInkError, preprocess
from model.recognise import recognise_digit, recognise_number
from model.segment import TooManyDigitsError


@pytest.fixture(scope="module")
def served_model():
    return model.load()


def digits_of(readings):
    return "".join(str(int(np.argmax(reading.probabilities))) for reading in readings)


def test_a_number_is_read_left_to_right(served_model):
    assert digits_of(recognise_number(number_png("42"), served_model)) == "42"


def test_leading_zeros_are_digits_like_any_other(served_model):
    assert digits_of(recognise_number(number_png("007"), served_model)) == "007"


def test_boxes_are_in_pixels_of_the_upload_in_reading_order(served_model):
    readings = recognise_number(number_png("1047"), served_model)
    lefts = [reading.box[0] for reading in readings]
    assert lefts == sorted(lefts)
    for left, top, width, height in (reading.box for reading in readings):
        assert 0 <= left and 0 <= top and width > 0 and height > 0
        assert top + height <= 280


def test_each_digit_has_its_own_field(served_model):
    readings = recognise_number(number_png("17"), served_model)
    assert [reading.field.shape for reading in readings] == [(28, 28), (28, 28)]
    assert not np.array_equal(readings[0].field, readings[1].field)


def test_one_digit_is_read_from_all_its_ink_as_preprocess_makes_it(served_model):
    data = number_png("7")
    answer = recognise_digit(data, served_model)
    expected = served_model.predict_proba(preprocess(data)[np.newaxis])[0]
    np.testing.assert_array_equal(answer.digit.probabilities, expected)
    assert not answer.several_digits


def test_one_digit_answer_flags_a_drawing_of_several_digits(served_model):
    assert recognise_digit(number_png("42"), served_model).several_digits


def test_a_blank_drawing_has_no_ink(served_model):
    blank = encode_image(Image.new("RGBA", (280, 280), (0, 0, 0, 0)))
    with pytest.raises(NoInkError):
        recognise_number(blank, served_model)


def test_more_marks_than_the_limit_are_refused_naming_it(served_model):
    with pytest.raises(TooManyDigitsError, match="at most 3"):
        recognise_number(number_png("1111"), served_model, max_digits=3)
