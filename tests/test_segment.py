"""Finding the digits of a drawn number: marks, merged parts, touching digits split.

Every drawing is made here from pen strokes on a surface 280 units high,
drawn with the page's pen, encoded as a real PNG and read back with
`ink_from_bytes`, then segmented with the committed network as the judge.
"""

import numpy as np
import pytest
from scipy import ndimage

from bench.support.digits import ONE_MARKS
from bench.support.drawing import STYLES, encode_image, encode_style
from model.constants import CANVAS_HEIGHT, DEFAULT_MODEL_PATH
from model.network import Network
from model.preprocess import NoInkError, digit_field, ink_from_bytes
from model.segment import Region, TooManyDigitsError, best_path, find_digits
from model.training.handwriting import render_strokes

MAX_DIGITS = 12
RING_POINTS = 48


@pytest.fixture(scope="module")
def classify():
    """The committed network's `recognise` for fields of shape (n, 28, 28): probabilities and is_digit."""
    return Network.load(DEFAULT_MODEL_PATH).recognise


def ink_of(strokes, width, style="transparent", line_width=18):
    """Draw strokes on a surface `width` units wide with the page's pen; return the decoded ink."""
    drawing = render_strokes(strokes, line_width, size=(width, CANVAS_HEIGHT))
    return ink_from_bytes(encode_image(encode_style(drawing, style)))


def read(regions, classify):
    """Return the number the regions read as, e.g. "42"."""
    fields = np.stack([region.field for region in regions])
    return "".join(str(digit) for digit in classify(fields).probabilities.argmax(axis=1))


def marks_in(ink):
    """Return how many separate pieces of ink a drawing holds."""
    return ndimage.label(ink > 0.5, structure=np.ones((3, 3)))[1]


# ---- Strokes of clear-cut digits, `x` the left edge --------------------


def one(x):
    return [[[x + 12, 60], [x, 220]]]


def zero(centre_x, half_width=40, half_height=80):
    turn = np.linspace(0, 2 * np.pi, RING_POINTS + 1)
    return [np.c_[centre_x + half_width * np.sin(turn), 140 - half_height * np.cos(turn)].tolist()]


def two(x):
    return [[[x, 90], [x + 20, 62], [x + 55, 60], [x + 75, 90], [x + 60, 140], [x, 218],
             [x + 85, 218]]]


def three(x):
    return [[[x, 80], [x + 30, 60], [x + 65, 75], [x + 60, 120], [x + 25, 138], [x + 70, 160],
             [x + 70, 200], [x + 35, 220], [x, 205]]]


def four_in_two_strokes(x):
    """A 4 whose upright, drawn second, stops short of the bar."""
    return [[[x + 40, 60], [x, 160], [x + 95, 160]], [[x + 76, 70], [x + 72, 138]]]


def five_with_detached_bar(x):
    return [[[x + 10, 76], [x + 4, 130], [x + 40, 118], [x + 70, 140], [x + 76, 180],
             [x + 50, 214], [x + 8, 206]],
            [[x + 22, 46], [x + 80, 46]]]


def seven(x):
    return [[[x, 62], [x + 90, 60], [x + 30, 220]]]


# ---- Separate digits ----------------------------------------------------


@pytest.mark.parametrize("style", STYLES)
def test_two_digits_apart_are_read_left_to_right(classify, style):
    regions = find_digits(ink_of(one(40) + zero(170), 250, style), classify, MAX_DIGITS)
    assert read(regions, classify) == "10"


def test_boxes_hold_each_digits_ink_in_pixels_of_the_drawing(classify):
    regions = find_digits(ink_of(one(40) + seven(120), 250), classify, MAX_DIGITS)
    (x1, y1, w1, h1), (x7, y7, w7, h7) = (region.box for region in regions)
    # The 1 runs from (52, 60) to (40, 220) and the 7 spans 120–210, each widened by the 9-unit pen.
    assert abs(x1 - 31) <= 1 and abs(x1 + w1 - 61) <= 1
    assert abs(y1 - 51) <= 1 and abs(y1 + h1 - 229) <= 1
    assert abs(x7 - 111) <= 1 and abs(x7 + w7 - 219) <= 1
    assert x1 + w1 < x7


def test_regions_are_fields_of_the_digits_own_ink(classify):
    regions = find_digits(ink_of(one(40) + seven(120), 250), classify, MAX_DIGITS)
    assert all(isinstance(region, Region) for region in regions)
    assert all(region.field.shape == (28, 28) and region.field.dtype == np.float32
               for region in regions)
    assert read(regions, classify) == "17"


@pytest.mark.parametrize("line_width", [8, 18, 28])
def test_a_single_digit_gives_the_field_of_the_whole_drawing(classify, line_width):
    """One digit through the number reader is exactly what /predict reads."""
    ink = ink_of(two(100), CANVAS_HEIGHT, line_width=line_width)
    (region,) = find_digits(ink, classify, MAX_DIGITS)
    np.testing.assert_array_equal(region.field, digit_field(ink))


# ---- Touching and overlapping digits -------------------------------------


@pytest.mark.parametrize(("strokes", "number"), [
    (two(30) + three(30 + 92), "23"),
    (seven(30) + zero(30 + 90 + 40, half_width=40), "70"),
])
def test_touching_digits_are_split(classify, strokes, number):
    ink = ink_of(strokes, 260)
    assert marks_in(ink) == 1
    assert read(find_digits(ink, classify, MAX_DIGITS), classify) == number


def test_three_digits_touching_in_a_chain_are_cut_in_one_go(classify):
    ink = ink_of(two(30) + three(30 + 92) + seven(30 + 92 + 74), 330)
    assert marks_in(ink) == 1
    assert read(find_digits(ink, classify, MAX_DIGITS), classify) == "237"


@pytest.mark.parametrize(("strokes", "number"), [
    (three(30) + two(30 + 64), "32"),
    (two(30) + zero(30 + 85 + 34, half_width=40), "20"),
])
def test_overlapping_digits_are_split(classify, strokes, number):
    ink = ink_of(strokes, 260)
    assert marks_in(ink) == 1
    regions = find_digits(ink, classify, MAX_DIGITS)
    assert read(regions, classify) == number
    (left, _, left_width, _), (right, _, _, _) = (region.box for region in regions)
    assert left < right <= left + left_width


# ---- Parts of one digit ----------------------------------------------------


def test_a_five_with_a_detached_bar_is_one_digit(classify):
    ink = ink_of(five_with_detached_bar(90), CANVAS_HEIGHT)
    assert marks_in(ink) == 2
    assert read(find_digits(ink, classify, MAX_DIGITS), classify) == "5"


def test_a_four_in_two_strokes_is_one_digit(classify):
    ink = ink_of(four_in_two_strokes(90), CANVAS_HEIGHT)
    assert marks_in(ink) == 2
    assert read(find_digits(ink, classify, MAX_DIGITS), classify) == "4"


def test_a_dotted_stroke_is_one_digit(classify):
    dots = [[[140 - 2 * step, 60 + 32 * step]] for step in range(6)]
    ink = ink_of(dots, CANVAS_HEIGHT)
    assert marks_in(ink) == 6
    assert read(find_digits(ink, classify, MAX_DIGITS), classify) == "1"


def test_a_dot_beside_a_digit_joins_it(classify):
    ink = ink_of(seven(80) + [[[130, 238]]], CANVAS_HEIGHT)
    assert marks_in(ink) == 2
    assert len(find_digits(ink, classify, MAX_DIGITS)) == 1


def test_a_lone_dot_is_one_mark(classify):
    (region,) = find_digits(ink_of([[[140, 140]]], CANVAS_HEIGHT), classify, MAX_DIGITS)
    assert region.box[2] == pytest.approx(18, abs=1)


@pytest.mark.parametrize("line_width", [8, 18, 28])
def test_a_wide_zero_is_not_split(classify, line_width):
    ink = ink_of(zero(150, half_width=120, half_height=70), 300, line_width=line_width)
    assert read(find_digits(ink, classify, MAX_DIGITS), classify) == "0"


@pytest.mark.parametrize(("strokes", "width"), list(ONE_MARKS.values()), ids=list(ONE_MARKS))
def test_a_dash_an_underline_and_a_wide_seven_are_one_mark(classify, strokes, width):
    assert len(find_digits(ink_of(strokes, width), classify, MAX_DIGITS)) == 1


# ---- The cheapest path -------------------------------------------------------


def test_the_cheapest_path_covers_everything_at_the_least_cost():
    spans = [(0, 1), (0, 2), (1, 2), (2, 3), (1, 3)]
    costs = np.array([1.0, 5.0, 1.0, 1.0, 3.0])
    assert best_path(3, spans, costs) == [0, 2, 3]


def test_no_path_of_finite_cost_is_none():
    assert best_path(2, [(0, 1), (1, 2)], np.array([1.0, np.inf])) is None


# ---- Limits ----------------------------------------------------------------


def ones(count):
    return [stroke for index in range(count) for stroke in one(30 + 60 * index)], 60 * count + 30


def test_twelve_marks_are_twelve_digits(classify):
    strokes, width = ones(12)
    assert read(find_digits(ink_of(strokes, width), classify, MAX_DIGITS), classify) == "1" * 12


def test_thirteen_marks_are_too_many(classify):
    strokes, width = ones(13)
    with pytest.raises(TooManyDigitsError, match="12"):
        find_digits(ink_of(strokes, width), classify, MAX_DIGITS)


def test_a_blank_drawing_has_no_ink(classify):
    with pytest.raises(NoInkError):
        find_digits(np.zeros((CANVAS_HEIGHT, 400), dtype=np.float32), classify, MAX_DIGITS)


def test_a_cut_through_many_small_marks_keeps_ink_on_both_sides(classify):
    """A side whose marks are each a small share of it keeps its largest, rather than nothing."""
    dots = [[[60 + 3 * step, 60 + 50 * (step % 4)]] for step in range(60)]
    ink = ink_of(dots, 280, line_width=8)
    assert marks_in(ink) == 60
    regions = find_digits(ink, classify, MAX_DIGITS)
    assert all(region.box[2] > 0 and region.box[3] > 0 for region in regions)
