"""The report's two charts with axes, drawn with matplotlib: learning curves and the confusion matrix.

matplotlib is a training and report dependency (requirements-training.txt),
never the web app's: the app only serves the PNGs these functions draw.
Figures are made with the Agg canvas directly (no pyplot, no global
state) at a fixed size and resolution, with matplotlib's bundled DejaVu
font, and handed back as Pillow images, so the PNGs carry no timestamp
or software tag and the same input draws the same pixels.
"""

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from PIL import Image

from model.constants import N_CLASSES
from model.evaluation.grids import blend
from model.formatting import PERCENT, is_number, percent
from model.report_files import confusion_shades, per_digit_accuracy

DPI = 100
LEARNING_CURVES_INCHES = (8.0, 9.6)
CONFUSION_MATRIX_INCHES = (8.6, 8.4)
"""Pictures of 800 × 960 and 860 × 840 pixels, about the width of the report's digit grids."""

STYLE = {
    "font.size": 16,
    "axes.titlesize": 20,
    "axes.labelsize": 17,
    "xtick.labelsize": 15,
    "ytick.labelsize": 15,
    "legend.fontsize": 16,
    "figure.titlesize": 22,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
"""Text of 21 pixels or more: shown at half size on a phone's 2x screen, still 10 CSS pixels."""

TRAIN_COLOUR = "#0072b2"
VALIDATION_COLOUR = "#d55e00"
"""Okabe-Ito blue and vermillion: told apart with every common colour-vision deficiency."""
BEST_EPOCH_COLOUR = "#787878"
MUTED = "#6e6e6e"
CORRECT_COLOUR = (33, 102, 172)
ERROR_COLOUR = (213, 94, 0)
"""Darkest shades of the confusion heat map: right answers blue, wrong ones vermillion."""
DARK_CELL = 0.55
"""Above this shade, a cell's count is written in white."""

MAX_EPOCHS_WITH_MARKERS = 30
LINE_WIDTH = 2.5
MARKER_SIZE = 7


def figure_image(figure):
    """Render a figure on the Agg canvas and return it as an RGB Pillow image."""
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return Image.fromarray(np.asarray(canvas.buffer_rgba())).convert("RGB")


def draw_learning_curves(history, best_epoch=None):
    """Draw loss and accuracy per epoch, training vs validation, as two stacked charts.

    history    : list of dicts as in the model metadata, each with "epoch" and
                 any of "train_loss", "val_loss", "train_accuracy", "val_accuracy"
                 (accuracies as fractions); missing or non-finite values are skipped.
    best_epoch : int or None; marked with a dashed vertical line.
    Returns an RGB image.
    """
    epochs = [entry.get("epoch", number) for number, entry in enumerate(history, start=1)]
    with matplotlib.rc_context(STYLE):
        figure = Figure(figsize=LEARNING_CURVES_INCHES, dpi=DPI, layout="constrained")
        figure.suptitle("Learning curves", x=0.02, horizontalalignment="left")
        loss_axes, accuracy_axes = figure.subplots(2, 1, sharex=True)
        panels = ((loss_axes, "loss", 1, "Loss (cross-entropy)"), (accuracy_axes, "accuracy", PERCENT, "Accuracy (%)"))
        drawn = False
        for axes, quantity, factor, title in panels:
            axes.set_title(title, loc="left")
            axes.grid(axis="y", color="#e2e2e2")
            for prefix, colour, marker, label in (("train", TRAIN_COLOUR, "o", "training"),
                                                  ("val", VALIDATION_COLOUR, "s", "validation")):
                points = [(epoch, entry[f"{prefix}_{quantity}"] * factor)
                          for epoch, entry in zip(epochs, history) if is_number(entry.get(f"{prefix}_{quantity}"))]
                if not points:
                    continue
                xs, ys = zip(*points)
                show_markers = len(points) <= MAX_EPOCHS_WITH_MARKERS
                axes.plot(xs, ys, color=colour, linewidth=LINE_WIDTH, label=label,
                          marker=marker if show_markers else None, markersize=MARKER_SIZE)
                drawn = True
            if best_epoch is not None:
                axes.axvline(best_epoch, color=BEST_EPOCH_COLOUR, linestyle="--", linewidth=2,
                             label=f"best epoch ({best_epoch})")
        if not drawn:
            for axes, *_ in panels:
                axes.text(0.5, 0.5, "no training history in the model file", color=MUTED,
                          horizontalalignment="center", verticalalignment="center", transform=axes.transAxes)
        else:
            loss_axes.legend(loc="upper right", frameon=False)
        accuracy_axes.set_xlabel("epoch")
        accuracy_axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        return figure_image(figure)


def cell_colours(confusion):
    """Return the colour of each cell of the confusion heat map, uint8 of shape (n_classes, n_classes, 3).

    Shaded as model.report_files.confusion_shades says, from white to
    CORRECT_COLOUR on the diagonal and to ERROR_COLOUR off it, as the /model
    page's heat map is.
    """
    shades = confusion_shades(confusion)
    diagonal = np.eye(len(confusion), dtype=bool)[..., None]
    return np.where(diagonal, blend(CORRECT_COLOUR, shades), blend(ERROR_COLOUR, shades))


def draw_confusion_matrix(confusion):
    """Draw the 10×10 confusion matrix as a heat map with the counts written in, and per-digit accuracy.

    confusion : ndarray of shape (10, 10), rows true, columns predicted.
    Returns an RGB image.
    """
    confusion = np.asarray(confusion)
    shades = confusion_shades(confusion)
    digits = range(N_CLASSES)
    with matplotlib.rc_context(STYLE):
        figure = Figure(figsize=CONFUSION_MATRIX_INCHES, dpi=DPI, layout="constrained")
        figure.suptitle("Confusion matrix", x=0.02, horizontalalignment="left")
        axes = figure.subplots()
        axes.imshow(cell_colours(confusion), interpolation="nearest")
        for true in digits:
            for predicted in digits:
                count = int(confusion[true, predicted])
                ink = "white" if shades[true, predicted] > DARK_CELL else ("#212121" if count else "#c8c8c8")
                axes.text(predicted, true, str(count), color=ink, fontsize=14,
                          horizontalalignment="center", verticalalignment="center")
        axes.set_xticks(digits)
        axes.set_yticks(digits)
        axes.xaxis.tick_top()
        axes.xaxis.set_label_position("top")
        axes.set_xlabel("predicted digit")
        axes.set_ylabel("true digit")
        axes.tick_params(length=0)
        for spine in axes.spines.values():
            spine.set_visible(False)
        accuracy = axes.secondary_yaxis("right")
        accuracy.set_yticks(digits, [percent(share, 1) for share in per_digit_accuracy(confusion)])
        accuracy.tick_params(length=0)
        accuracy.spines["right"].set_visible(False)
        accuracy.set_ylabel("accuracy")
        axes.set_title(f"{int(confusion.sum())} test digits; rows: true digit, columns: predicted digit",
                       loc="left", y=-0.08, fontsize=14, color=MUTED)
        return figure_image(figure)
