"""The evaluation report's four pictures, drawn with Pillow alone.

    learning_curves          loss and accuracy per epoch, training vs validation
    misclassified            the wrong answers, the most confident first
    first_layer_weights      what the first hidden units look for
    confusion_matrix         the confusion matrix as a heat map

Each drawing function is pure: arrays or plain data in, a ``PIL.Image``
out, drawn on a `model.evaluation.chart_drawing.Canvas`. Pictures are 800 to 940 pixels wide
with text large enough to read at half size on a phone's 2x screen.

Why not a plotting library: matplotlib, tried, drew the learning curves and
the confusion matrix in about a quarter of the lines, but with text half
this size until tuned, pictures that change with its version and fonts, and
75 MB more to install for a report that is redrawn once per trained model.
"""

import math

import numpy as np
from PIL import Image

from model.constants import IMAGE_SIDE, MAX_INTENSITY, N_CLASSES
from model.evaluation.chart_drawing import TEXT, WHITE, Canvas, blend, draw_arrow, format_tick, nice_ticks
from model.formatting import percent, probability_percent
from model.report_files import confusion_shades, per_digit_accuracy

N_WEIGHT_UNITS = 100
"""First-layer hidden units drawn in the weights grid."""

GRID_COLUMNS = 10
"""Columns of the misclassified and weights grids."""

# Sizes are in pixels of the final image.
TITLE_SIZE = 30
LABEL_SIZE = 24
TICK_SIZE = 22
SMALL_SIZE = 20
"""Font sizes in pixels: shown at half size, as on a phone's 2x screen, the smallest is 10 CSS pixels."""

MARGIN = 20

MUTED = (110, 110, 110)
AXIS = (80, 80, 80)
GRID_LINE = (226, 226, 226)
TRAIN_COLOUR = (0, 114, 178)
VALIDATION_COLOUR = (213, 94, 0)
"""Okabe-Ito blue and vermillion: told apart with every common colour-vision deficiency."""
BEST_EPOCH_COLOUR = (120, 120, 120)
NEGATIVE_COLOUR = (33, 102, 172)
POSITIVE_COLOUR = (178, 24, 43)
"""Ends of the diverging blue-white-red scale of the weights picture."""
CORRECT_COLOUR = (33, 102, 172)
ERROR_COLOUR = (213, 94, 0)
"""Darkest shades of the confusion heat map: right answers blue, wrong ones vermillion."""
WRONG_LABEL_COLOUR = (200, 40, 30)

LEARNING_CURVES_SIZE = (800, 960)
CURVES_HEADER = 110
CURVES_PANEL_HEIGHT = 420
CURVES_LEFT = 96
CURVES_RIGHT = 30
CURVES_PLOT_TOP = 48
CURVES_PLOT_BOTTOM = 70
LINE_WIDTH = 3
MARKER_RADIUS = 5
MAX_EPOCHS_WITH_MARKERS = 30

DIGIT_SCALE = 3
"""Each 28×28 digit or weight image is shown as 84×84 pixels, nearest neighbour."""
GRID_HEADER = 96
GRID_KEY_Y = MARGIN + 52
"""Where the key under a grid's title is written."""
MISCLASSIFIED_CELL = (90, 150)
WEIGHT_CELL = (90, 90)
COLOUR_KEY_SIZE = (240, 18)

CONFUSION_CELL = 64
CONFUSION_LEFT = 96
CONFUSION_TOP = 136
CONFUSION_RIGHT = 120
CONFUSION_BOTTOM = 60
CONFUSION_MATRIX_SIZE = (
    CONFUSION_LEFT + N_CLASSES * CONFUSION_CELL + CONFUSION_RIGHT,
    CONFUSION_TOP + N_CLASSES * CONFUSION_CELL + CONFUSION_BOTTOM,
)
DARK_CELL = 0.55
"""Above this shade, a cell's count is written in white."""


# Layout and colour helpers -------------------------------------------------------


def diverging_colours(values):
    """Map values in [-1, 1] to blue (negative), white (zero) and red (positive).

    values : ndarray of any shape
    Returns uint8 ndarray of shape values.shape + (3,).
    """
    values = np.asarray(values)
    return np.where(values[..., None] < 0, blend(NEGATIVE_COLOUR, -values), blend(POSITIVE_COLOUR, values))


def grid_canvas(n_items, cell, columns, title):
    """Return a Canvas for a titled grid of n_items cells, `columns` wide, with room for a key under the title.

    cell : (width, height) of one cell; the grid has at least one row, for
    the "nothing to show" line.
    """
    cell_width, cell_height = cell
    rows = max(1, math.ceil(n_items / columns))
    canvas = Canvas((2 * MARGIN + columns * cell_width, GRID_HEADER + rows * cell_height + MARGIN))
    canvas.text((MARGIN, MARGIN), title, TITLE_SIZE)
    return canvas


def grid_cell(index, cell, columns):
    """Return the top-left corner (x, y) of cell number `index` of a grid_canvas."""
    row, column = divmod(index, columns)
    return MARGIN + column * cell[0], GRID_HEADER + row * cell[1]


def enlarge(pixels):
    """Return a 28×28 tile, (28, 28) or (28, 28, 3), DIGIT_SCALE times larger, each pixel a square block."""
    return pixels.repeat(DIGIT_SCALE, axis=0).repeat(DIGIT_SCALE, axis=1)


def digit_picture(image):
    """Return a 28×28 uint8 digit (ink = 255) as an RGB picture DIGIT_SCALE times larger, dark ink on white."""
    return Image.fromarray(enlarge(MAX_INTENSITY - image).astype(np.uint8), "L").convert("RGB")


# Pictures ------------------------------------------------------------------


def draw_learning_curves(history, best_epoch=None):
    """Draw loss and accuracy per epoch, training vs validation, as two stacked charts.

    history    : list of dicts as in the model metadata, each with "epoch" and
                 any of "train_loss", "val_loss", "train_accuracy", "val_accuracy"
                 (accuracies as fractions); missing or non-finite values are skipped.
    best_epoch : int or None; marked with a dashed vertical line.
    Returns an RGB image of size LEARNING_CURVES_SIZE.
    """
    canvas = Canvas(LEARNING_CURVES_SIZE)
    width, _ = LEARNING_CURVES_SIZE
    canvas.text((MARGIN, MARGIN), "Learning curves", TITLE_SIZE)

    legend = [("training", TRAIN_COLOUR, False), ("validation", VALIDATION_COLOUR, True)]
    x = MARGIN
    legend_y = MARGIN + 58
    for label, colour, square in legend:
        canvas.line([(x, legend_y), (x + 36, legend_y)], colour, LINE_WIDTH)
        canvas.marker((x + 18, legend_y), MARKER_RADIUS, colour, square)
        canvas.text((x + 46, legend_y), label, LABEL_SIZE, anchor="lm")
        x += 46 + canvas.text_width(label, LABEL_SIZE) + 32
    if best_epoch is not None:
        canvas.dashed_line((x + 18, legend_y - 14), (x + 18, legend_y + 14), BEST_EPOCH_COLOUR, 2)
        canvas.text((x + 32, legend_y), f"best epoch ({best_epoch})", LABEL_SIZE, anchor="lm")

    epochs = [entry.get("epoch", number) for number, entry in enumerate(history, start=1)]
    panels = (
        ("Loss (cross-entropy)", "loss", 1.0),
        ("Accuracy (%)", "accuracy", 100.0),
    )
    for index, (title, quantity, factor) in enumerate(panels):
        top = CURVES_HEADER + index * CURVES_PANEL_HEIGHT
        bottom = top + CURVES_PANEL_HEIGHT - CURVES_PLOT_BOTTOM
        box = (CURVES_LEFT, top + CURVES_PLOT_TOP, width - CURVES_RIGHT, bottom)
        series = []
        for prefix, colour, square in (("train", TRAIN_COLOUR, False), ("val", VALIDATION_COLOUR, True)):
            key = f"{prefix}_{quantity}"
            points = [
                (float(epoch), float(entry[key]) * factor)
                for epoch, entry in zip(epochs, history)
                if isinstance(entry.get(key), (int, float)) and math.isfinite(entry[key])
            ]
            series.append((points, colour, square))
        canvas.text((MARGIN, top + 8), title, LABEL_SIZE)
        _draw_chart(canvas, box, series, best_epoch)
    return canvas.finish()


def _draw_chart(canvas, box, series, best_epoch):
    """Draw axes, ticks, grid lines and the series [(points, colour, square marker)] inside box."""
    left, top, right, bottom = box
    points = [point for line, _, _ in series for point in line]
    if not points:
        canvas.rectangle(box, outline=AXIS)
        canvas.text(((left + right) / 2, (top + bottom) / 2), "no training history in the model file", LABEL_SIZE,
                    MUTED, "mm")
        return
    xs = [x for x, _ in points] + ([best_epoch] if best_epoch is not None else [])
    ys = [y for _, y in points]
    x_ticks = nice_ticks(min(xs), max(xs), integer=True)
    y_ticks = nice_ticks(min(ys), max(ys))
    x_low, x_high = x_ticks[0], x_ticks[-1]
    y_low, y_high = y_ticks[0], y_ticks[-1]

    def place(x, y):
        return (
            left + (x - x_low) / (x_high - x_low) * (right - left),
            bottom - (y - y_low) / (y_high - y_low) * (bottom - top),
        )

    y_step = y_ticks[1] - y_ticks[0]
    for value in y_ticks:
        _, y = place(x_low, value)
        canvas.line([(left, y), (right, y)], GRID_LINE, 1)
        canvas.text((left - 10, y), format_tick(value, y_step), TICK_SIZE, anchor="rm")
    for value in x_ticks:
        x, _ = place(value, y_low)
        canvas.line([(x, bottom), (x, bottom + 8)], AXIS, 2)
        canvas.text((x, bottom + 12), str(int(value)), TICK_SIZE, anchor="mt")
    canvas.line([(left, top), (left, bottom), (right, bottom)], AXIS, 2)
    canvas.text(((left + right) / 2, bottom + 44), "epoch", LABEL_SIZE, anchor="mt")
    if best_epoch is not None:
        x, _ = place(best_epoch, y_low)
        canvas.dashed_line((x, top), (x, bottom), BEST_EPOCH_COLOUR, 2)

    n_epochs = max(len(line) for line, _, _ in series)
    for line, colour, square in series:
        placed = [place(x, y) for x, y in line]
        if len(placed) > 1:
            canvas.line(placed, colour, LINE_WIDTH)
        if n_epochs <= MAX_EPOCHS_WITH_MARKERS or len(placed) == 1:
            for centre in placed:
                canvas.marker(centre, MARKER_RADIUS, colour, square)


def draw_misclassified(images, y_true, y_pred, confidence, total_errors=None, columns=GRID_COLUMNS):
    """Draw a grid of digits with their true label, the predicted one and its probability.

    images     : ndarray of shape (n, 28, 28), uint8, ink = 255 (drawn dark on white)
    y_true     : ndarray of shape (n,)
    y_pred     : ndarray of shape (n,)
    confidence : ndarray of shape (n,), probability of the predicted digit
    total_errors : how many wrong answers there were in all (default n), for the title
    Returns an RGB image GRID_COLUMNS cells wide, one row of cells per `columns` digits.
    """
    n = len(images)
    total_errors = n if total_errors is None else total_errors
    cell_width, cell_height = MISCLASSIFIED_CELL
    canvas = grid_canvas(n, MISCLASSIFIED_CELL, columns, f"Misclassified test digits: {n} of {total_errors}")
    key_y = GRID_KEY_Y
    canvas.text((MARGIN, key_y), "true", SMALL_SIZE, MUTED, "lm")
    key_x = MARGIN + canvas.text_width("true", SMALL_SIZE) + 8
    draw_arrow(canvas, key_x, key_x + 28, key_y, MUTED)
    canvas.text((key_x + 36, key_y), "predicted, probability given to the wrong answer; most confident first",
                SMALL_SIZE, MUTED, "lm")
    if n == 0:
        canvas.text((canvas.size[0] / 2, GRID_HEADER + cell_height / 2), "no misclassified digits", LABEL_SIZE, MUTED,
                    "mm")
        return canvas.finish()

    side = IMAGE_SIDE * DIGIT_SCALE
    for index in range(n):
        x, y = grid_cell(index, MISCLASSIFIED_CELL, columns)
        image_x = x + (cell_width - side) // 2
        canvas.paste(digit_picture(images[index]), (image_x, y))
        canvas.rectangle((image_x, y, image_x + side, y + side), outline=GRID_LINE)
        centre = x + cell_width / 2
        label_y = y + side + 18
        canvas.text((centre - 14, label_y), str(int(y_true[index])), LABEL_SIZE, TEXT, "rm")
        draw_arrow(canvas, centre - 10, centre + 10, label_y, MUTED)
        canvas.text((centre + 14, label_y), str(int(y_pred[index])), LABEL_SIZE, WRONG_LABEL_COLOUR, "lm")
        canvas.text((centre, label_y + 26), probability_percent(confidence[index]), SMALL_SIZE, MUTED, "mm")
    return canvas.finish()


def draw_first_layer_weights(weights, n_units=N_WEIGHT_UNITS, columns=GRID_COLUMNS):
    """Draw the incoming weights of the first hidden units as 28×28 pictures.

    weights : ndarray of shape (784, n_hidden), the first layer's weight matrix
    Each unit is scaled to its own largest absolute weight and coloured
    blue (negative) - white (zero) - red (positive).
    Returns an RGB image `columns` tiles wide, one row per `columns` units.
    """
    n_hidden = weights.shape[1]
    n = min(n_units, n_hidden)
    tiles = np.asarray(weights[:, :n], dtype=np.float64).T.reshape(n, IMAGE_SIDE, IMAGE_SIDE)
    largest = np.abs(tiles).max(axis=(1, 2), keepdims=True)
    normalised = np.divide(tiles, largest, out=np.zeros_like(tiles), where=largest > 0)
    coloured = diverging_colours(normalised)

    canvas = grid_canvas(n, WEIGHT_CELL, columns, f"First-layer weights: hidden units 1 to {n} of {n_hidden}")
    key_y = GRID_KEY_Y
    key_width, key_height = COLOUR_KEY_SIZE
    gradient = diverging_colours(np.linspace(-1.0, 1.0, key_width))[None].repeat(key_height, axis=0)
    canvas.text((MARGIN, key_y), "negative", SMALL_SIZE, MUTED, "lm")
    key_x = MARGIN + canvas.text_width("negative", SMALL_SIZE) + 10
    canvas.paste(Image.fromarray(gradient, "RGB"), (key_x, key_y - key_height // 2))
    canvas.rectangle((key_x, key_y - key_height // 2, key_x + key_width, key_y + key_height - key_height // 2),
                     outline=GRID_LINE)
    canvas.text((key_x + key_width + 10, key_y), "positive (each unit scaled to its own largest weight)",
                SMALL_SIZE, MUTED, "lm")

    side = IMAGE_SIDE * DIGIT_SCALE
    for index in range(n):
        x, y = grid_cell(index, WEIGHT_CELL, columns)
        canvas.paste(Image.fromarray(enlarge(coloured[index]), "RGB"), (x + (WEIGHT_CELL[0] - side) // 2, y))
    return canvas.finish()


def draw_confusion_matrix(confusion):
    """Draw the 10×10 confusion matrix as a heat map with the counts written in, and per-digit accuracy.

    confusion : ndarray of shape (10, 10), rows true, columns predicted.
    Right answers are shaded blue, wrong ones vermillion, as
    model.report_files.confusion_shades says.
    Returns an RGB image of size CONFUSION_MATRIX_SIZE.
    """
    confusion = np.asarray(confusion)
    canvas = Canvas(CONFUSION_MATRIX_SIZE)
    canvas.text((MARGIN, MARGIN), "Confusion matrix", TITLE_SIZE)

    samples = confusion.sum(axis=1)
    right_share = per_digit_accuracy(confusion)
    shade = confusion_shades(confusion)
    diagonal = np.eye(N_CLASSES, dtype=bool)[..., None]
    colours = np.where(diagonal, blend(CORRECT_COLOUR, shade), blend(ERROR_COLOUR, shade))

    grid_right = CONFUSION_LEFT + N_CLASSES * CONFUSION_CELL
    grid_bottom = CONFUSION_TOP + N_CLASSES * CONFUSION_CELL
    grid_centre = (CONFUSION_LEFT + grid_right) / 2
    canvas.text((grid_centre, CONFUSION_TOP - 62), "predicted digit", LABEL_SIZE, anchor="mm")
    canvas.vertical_text((MARGIN + 12, (CONFUSION_TOP + grid_bottom) / 2), "true digit", LABEL_SIZE)
    canvas.text((grid_right + CONFUSION_RIGHT / 2, CONFUSION_TOP - 24), "accuracy", SMALL_SIZE, MUTED, "mm")
    for digit in range(N_CLASSES):
        offset = digit * CONFUSION_CELL + CONFUSION_CELL / 2
        canvas.text((CONFUSION_LEFT + offset, CONFUSION_TOP - 24), str(digit), LABEL_SIZE, anchor="mm")
        canvas.text((CONFUSION_LEFT - 16, CONFUSION_TOP + offset), str(digit), LABEL_SIZE, anchor="rm")
        share = right_share[digit]
        canvas.text((grid_right + CONFUSION_RIGHT / 2, CONFUSION_TOP + offset),
                    percent(share, 1), SMALL_SIZE, anchor="mm")

    for true in range(N_CLASSES):
        for predicted in range(N_CLASSES):
            x = CONFUSION_LEFT + predicted * CONFUSION_CELL
            y = CONFUSION_TOP + true * CONFUSION_CELL
            fill = tuple(int(channel) for channel in colours[true, predicted])
            canvas.rectangle((x, y, x + CONFUSION_CELL, y + CONFUSION_CELL), fill=fill, outline=WHITE)
            count = int(confusion[true, predicted])
            ink = WHITE if shade[true, predicted] > DARK_CELL else (TEXT if count else GRID_LINE)
            canvas.text((x + CONFUSION_CELL / 2, y + CONFUSION_CELL / 2), str(count), SMALL_SIZE, ink, "mm")
    canvas.text((MARGIN, grid_bottom + 18),
                f"{int(samples.sum())} test digits; rows: true digit, columns: predicted digit",
                SMALL_SIZE, MUTED)
    return canvas.finish()

