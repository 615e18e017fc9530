"""The report's pictures: fixed sizes, grids that grow by rows, the colours they promise."""

import numpy as np
import pytest

from model.constants import IMAGE_SIDE, N_CLASSES, N_PIXELS
from model.evaluation.chart_drawing import WHITE
from model.evaluation.charts import (
    CONFUSION_CELL,
    CONFUSION_LEFT,
    CONFUSION_MATRIX_SIZE,
    CONFUSION_TOP,
    CORRECT_COLOUR,
    ERROR_COLOUR,
    LEARNING_CURVES_SIZE,
    NEGATIVE_COLOUR,
    POSITIVE_COLOUR,
    digit_picture,
    diverging_colours,
    draw_confusion_matrix,
    draw_first_layer_weights,
    draw_learning_curves,
    draw_misclassified,
)

HISTORY = [
    {"epoch": epoch, "train_loss": 1 / epoch, "train_accuracy": 1 - 0.3 / epoch,
     "val_loss": 1.1 / epoch, "val_accuracy": 1 - 0.35 / epoch}
    for epoch in (1, 2, 3)
]


def test_diverging_colours_go_from_blue_through_white_to_red():
    colours = diverging_colours(np.array([-1.0, 0.0, 1.0]))
    assert [tuple(colour) for colour in colours] == [NEGATIVE_COLOUR, WHITE, POSITIVE_COLOUR]


@pytest.mark.parametrize("history", [HISTORY, HISTORY[:1], [{"epoch": 1}], []])
def test_learning_curves_have_a_fixed_size_whatever_the_history(history):
    image = draw_learning_curves(history, best_epoch=1 if history else None)
    assert image.mode == "RGB"
    assert image.size == LEARNING_CURVES_SIZE


def test_misclassified_grid_is_ten_wide_and_grows_by_rows():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(21, IMAGE_SIDE, IMAGE_SIDE), dtype=np.uint8)
    labels = np.arange(21) % N_CLASSES
    confidence = np.linspace(0.99, 0.5, 21)

    def grid(n):
        return draw_misclassified(images[:n], labels[:n], (labels[:n] + 1) % N_CLASSES, confidence[:n], 40)

    one_row, two_rows, three_rows, empty = grid(10), grid(11), grid(21), grid(0)
    assert {image.mode for image in (one_row, two_rows, three_rows, empty)} == {"RGB"}
    assert one_row.width == two_rows.width == three_rows.width == empty.width
    assert empty.height == one_row.height
    row_height = two_rows.height - one_row.height
    assert row_height > IMAGE_SIDE
    assert three_rows.height - two_rows.height == row_height


def test_first_layer_weights_show_at_most_the_units_there_are():
    weights = np.random.default_rng(0).normal(size=(N_PIXELS, 16)).astype(np.float32)
    few = draw_first_layer_weights(weights)
    two_rows = draw_first_layer_weights(weights, n_units=20)
    assert few.mode == "RGB"
    assert few.size == two_rows.size
    assert draw_first_layer_weights(weights, n_units=5).height < few.height


def test_confusion_heat_map_has_a_fixed_size_and_the_darkest_shades_where_promised():
    confusion = np.eye(N_CLASSES, dtype=np.int64) * 980
    confusion[4, 9] = 12
    image = draw_confusion_matrix(confusion)
    assert image.mode == "RGB"
    assert image.size == CONFUSION_MATRIX_SIZE

    def cell_corner(true, predicted):
        inset = CONFUSION_CELL // 8
        return image.getpixel((CONFUSION_LEFT + predicted * CONFUSION_CELL + inset,
                               CONFUSION_TOP + true * CONFUSION_CELL + inset))

    assert cell_corner(0, 0) == CORRECT_COLOUR
    assert cell_corner(4, 9) == ERROR_COLOUR
    assert cell_corner(9, 4) == WHITE


def test_a_digit_is_drawn_dark_on_white_three_times_larger():
    image = np.zeros((IMAGE_SIDE, IMAGE_SIDE), dtype=np.uint8)
    image[10, 12] = 255
    picture = np.asarray(digit_picture(image))
    scale = picture.shape[0] // IMAGE_SIDE
    assert picture.shape == (IMAGE_SIDE * scale, IMAGE_SIDE * scale, 3)
    assert (picture[10 * scale : 11 * scale, 12 * scale : 13 * scale] == 0).all()
    assert np.count_nonzero(picture.min(axis=2) < 255) == scale * scale
