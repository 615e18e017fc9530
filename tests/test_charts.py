"""The report's pictures: charts drawn the same every time, grids that grow by rows, the colours they promise."""

import numpy as np
import pytest

from model.constants import IMAGE_SIDE, N_CLASSES, N_PIXELS
from model.evaluation.charts import (
    CORRECT_COLOUR,
    ERROR_COLOUR,
    TRAIN_COLOUR,
    VALIDATION_COLOUR,
    cell_colours,
    draw_confusion_matrix,
    draw_learning_curves,
)
from model.evaluation.evaluate import png_bytes
from model.evaluation.grids import (
    NEGATIVE_COLOUR,
    POSITIVE_COLOUR,
    WHITE,
    digit_picture,
    diverging_colours,
    draw_first_layer_weights,
    draw_misclassified,
)

HISTORY = [
    {"epoch": epoch, "train_loss": 1 / epoch, "train_accuracy": 1 - 0.3 / epoch,
     "val_loss": 1.1 / epoch, "val_accuracy": 1 - 0.35 / epoch}
    for epoch in (1, 2, 3)
]


def rgb(colour):
    """Return a colour written '#rrggbb' or (r, g, b) as an (r, g, b) tuple."""
    if isinstance(colour, str):
        return tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return tuple(colour)


def has_colour(image, colour):
    """True if some pixel of the image is exactly `colour`."""
    return bool((np.asarray(image) == rgb(colour)).all(axis=2).any())


def test_diverging_colours_go_from_blue_through_white_to_red():
    colours = diverging_colours(np.array([-1.0, 0.0, 1.0]))
    assert [tuple(colour) for colour in colours] == [NEGATIVE_COLOUR, WHITE, POSITIVE_COLOUR]


def test_learning_curves_draw_training_and_validation_in_their_colours():
    image = draw_learning_curves(HISTORY, best_epoch=2)
    assert has_colour(image, TRAIN_COLOUR) and has_colour(image, VALIDATION_COLOUR)


def test_learning_curves_skip_what_the_history_lacks():
    image = draw_learning_curves([{"epoch": 1, "train_loss": 0.5, "val_loss": float("nan")}])
    assert has_colour(image, TRAIN_COLOUR)
    assert not has_colour(image, VALIDATION_COLOUR)


def test_learning_curves_without_history_draw_no_curve():
    image = draw_learning_curves([])
    assert not has_colour(image, TRAIN_COLOUR) and not has_colour(image, VALIDATION_COLOUR)


@pytest.mark.parametrize("draw", [lambda: draw_learning_curves(HISTORY, 2),
                                  lambda: draw_confusion_matrix(np.eye(N_CLASSES, dtype=np.int64) * 7)],
                         ids=["learning_curves", "confusion_matrix"])
def test_a_chart_is_the_same_file_every_time_it_is_drawn(draw):
    assert png_bytes(draw()) == png_bytes(draw())


def test_confusion_cells_are_darkest_where_promised():
    confusion = np.eye(N_CLASSES, dtype=np.int64) * 980
    confusion[4, 9] = 12
    confusion[3, 5] = 3
    colours = cell_colours(confusion)
    assert tuple(colours[0, 0]) == CORRECT_COLOUR
    assert tuple(colours[4, 9]) == ERROR_COLOUR
    assert tuple(colours[9, 4]) == WHITE
    assert tuple(colours[3, 5]) not in {ERROR_COLOUR, WHITE}, "a rarer confusion gets a lighter shade"


def test_the_confusion_picture_shows_the_cell_colours():
    confusion = np.eye(N_CLASSES, dtype=np.int64) * 980
    confusion[4, 9] = 12
    image = draw_confusion_matrix(confusion)
    assert has_colour(image, CORRECT_COLOUR) and has_colour(image, ERROR_COLOUR)


def test_misclassified_grid_is_ten_wide_and_grows_by_rows():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(21, IMAGE_SIDE, IMAGE_SIDE), dtype=np.uint8)
    labels = np.arange(21) % N_CLASSES
    confidence = np.linspace(0.99, 0.5, 21)

    def grid(n):
        return draw_misclassified(images[:n], labels[:n], (labels[:n] + 1) % N_CLASSES, confidence[:n], 40)

    one_row, two_rows, three_rows, empty = grid(10), grid(11), grid(21), grid(0)
    assert one_row.width == two_rows.width == three_rows.width == empty.width
    assert empty.height == one_row.height
    row_height = two_rows.height - one_row.height
    assert row_height > IMAGE_SIDE
    assert three_rows.height - two_rows.height == row_height


def test_first_layer_weights_show_at_most_the_units_there_are():
    weights = np.random.default_rng(0).normal(size=(N_PIXELS, 16)).astype(np.float32)
    few = draw_first_layer_weights(weights)
    assert few.size == draw_first_layer_weights(weights, n_units=20).size
    assert draw_first_layer_weights(weights, n_units=5).height < few.height


def test_a_digit_is_drawn_dark_on_white_three_times_larger():
    image = np.zeros((IMAGE_SIDE, IMAGE_SIDE), dtype=np.uint8)
    image[10, 12] = 255
    picture = np.asarray(digit_picture(image))
    scale = picture.shape[0] // IMAGE_SIDE
    assert picture.shape == (IMAGE_SIDE * scale, IMAGE_SIDE * scale, 3)
    assert (picture[10 * scale : 11 * scale, 12 * scale : 13 * scale] == 0).all()
    assert np.count_nonzero(picture.min(axis=2) < 255) == scale * scale
