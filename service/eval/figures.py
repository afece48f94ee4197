"""Pictures for the report: the confusion matrix (rows normalised, counts printed) and the reliability
diagram. matplotlib's Agg backend: no display needed, nothing but the PNG is written."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from service.eval.calibration import Calibration


def confusion_figure(matrix: np.ndarray, classes: tuple[str, ...], title: str, out: Path) -> None:
    columns = [*classes, "other/none"]
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = matrix / matrix.sum(1, keepdims=True)
    figure, axes = plt.subplots(figsize=(1.0 + 0.8 * len(columns), 1.0 + 0.7 * len(classes)))
    axes.imshow(np.nan_to_num(shares), cmap="Blues", vmin=0, vmax=1)
    axes.set_xticks(range(len(columns)), columns, rotation=45, ha="right")
    axes.set_yticks(range(len(classes)), classes)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(title)
    for (row, column), count in np.ndenumerate(matrix):
        if count:
            dark = shares[row, column] > 0.5
            axes.text(column, row, str(count), ha="center", va="center", color="white" if dark else "black")
    figure.tight_layout()
    figure.savefig(out, dpi=100)
    plt.close(figure)


def reliability_figure(result: Calibration, title: str, out: Path) -> None:
    figure, axes = plt.subplots(figsize=(5, 5))
    centres = (result.edges[:-1] + result.edges[1:]) / 2
    width = result.edges[1] - result.edges[0]
    filled = result.counts > 0
    axes.bar(centres[filled], result.accuracy[filled], width=width * 0.9, color="#4c72b0", label="accuracy")
    axes.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
    axes.plot(result.confidence[filled], result.accuracy[filled], "o", color="#dd8452", label="mean confidence")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    axes.set_xlabel("confidence")
    axes.set_ylabel("accuracy")
    axes.set_title(f"{title}\nECE {result.ece:.3f} over {result.points} labels")
    axes.legend(loc="upper left")
    figure.tight_layout()
    figure.savefig(out, dpi=100)
    plt.close(figure)
