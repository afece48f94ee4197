"""The paper's metrics, on per-item arrays so that a bootstrap can recompute them on thousands of resamples.

- expression: WAR = accuracy over all items; UAR = the mean over classes of each class's recall (classes with
  no item left out), the DFEW/MAFW definitions. RAF-DB's "accuracy" is WAR.
- action_units: per AU, F1 = 2TP / (2TP + FP + FN) over the frames where that AU is coded; mean F1 over AUs
  (an AU that neither occurs nor is predicted has no F1 and is left out of the mean).
- attributes: per attribute, the accuracy of present/absent over all items; CelebA's mean accuracy averages the
  40.
- age: MAE in years over the items with an age in the answer (the others are counted, not guessed).
- deepfake: accuracy over real and fake.
An answer with no label is wrong for the single-label tasks and "nothing present" for the multi-label ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from common.tasks import TaskName
from service.eval.items import Truth
from service.eval.predictions import Prediction

SINGLE_LABEL = ("expression", "deepfake")
HEADLINES: dict[str, tuple[str, ...]] = {
    "expression": ("uar", "war"),
    "deepfake": ("accuracy",),
    "age": ("mae",),
    "attributes": ("mean_accuracy",),
    "action_units": ("mean_f1",),
}


@dataclass
class Table:
    """Aligned per-item truth and prediction. Single-label: class indices (prediction -1 = none or another
    label); age: years (prediction NaN = no age); multi-label: bool [items, classes] plus `coded`."""

    task: TaskName
    classes: tuple[str, ...]
    truth: np.ndarray
    pred: np.ndarray
    coded: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.truth)


def table(task: TaskName, classes: tuple[str, ...], pairs: list[tuple[Truth, Prediction]]) -> Table:
    if task in SINGLE_LABEL:
        position = {label: i for i, label in enumerate(classes)}
        truth = np.array([position[str(t)] for t, _ in pairs], dtype=int)
        pred = np.array([position.get(p.label or "", -1) for _, p in pairs], dtype=int)
        return Table(task, classes, truth, pred)
    if task == "age":
        truth = np.array([float(t) for t, _ in pairs], dtype=float)
        pred = np.array([np.nan if p.value is None else p.value for _, p in pairs], dtype=float)
        return Table(task, classes, truth, pred)
    shape = (len(pairs), len(classes))
    truth, pred, coded = np.zeros(shape, bool), np.zeros(shape, bool), np.zeros(shape, bool)
    for i, (t, p) in enumerate(pairs):
        assert isinstance(t, dict)
        for j, label in enumerate(classes):
            coded[i, j] = label in t
            truth[i, j] = bool(t.get(label))
            pred[i, j] = label in p.labels
    return Table(task, classes, truth, pred, coded)


def _recalls(truth: np.ndarray, correct: np.ndarray, n_classes: int) -> np.ndarray:
    support = np.bincount(truth, minlength=n_classes)
    hits = np.bincount(truth, weights=correct, minlength=n_classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(support > 0, hits / np.maximum(support, 1), np.nan)


def _f1s(truth: np.ndarray, pred: np.ndarray, coded: np.ndarray) -> np.ndarray:
    tp = (truth & pred & coded).sum(0)
    fp = (~truth & pred & coded).sum(0)
    fn = (truth & ~pred & coded).sum(0)
    denominator = 2 * tp + fp + fn
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, 2 * tp / np.maximum(denominator, 1), np.nan)


def _nanmean(values: np.ndarray) -> float:
    finite = values[~np.isnan(values)]
    return float(finite.mean()) if finite.size else float("nan")


def per_class(t: Table, rows: np.ndarray | None = None) -> np.ndarray:
    """Recall per class (single-label), F1 per AU, accuracy per attribute; NaN where undefined."""
    truth, pred = (t.truth, t.pred) if rows is None else (t.truth[rows], t.pred[rows])
    if t.task in SINGLE_LABEL:
        return _recalls(truth, truth == pred, len(t.classes))
    if t.task == "action_units":
        assert t.coded is not None
        return _f1s(truth, pred, t.coded if rows is None else t.coded[rows])
    if t.task == "attributes":
        return (truth == pred).mean(0) if len(truth) else np.full(len(t.classes), np.nan)
    raise ValueError(f"{t.task} has no per-class metric")


def headline(t: Table, rows: np.ndarray | None = None) -> dict[str, float]:
    """The paper's metrics for the task, on all items or on the resampled `rows`."""
    if t.task == "age":
        error = np.abs((t.truth if rows is None else t.truth[rows]) - (t.pred if rows is None else t.pred[rows]))
        return {"mae": _nanmean(error)}
    classes = per_class(t, rows)
    if t.task in SINGLE_LABEL:
        truth, pred = (t.truth, t.pred) if rows is None else (t.truth[rows], t.pred[rows])
        accuracy = float((truth == pred).mean()) if len(truth) else float("nan")
        if t.task == "deepfake":
            return {"accuracy": accuracy}
        return {"uar": _nanmean(classes), "war": accuracy}
    return {"mean_f1" if t.task == "action_units" else "mean_accuracy": _nanmean(classes)}


def confusion(t: Table) -> np.ndarray:
    """Counts [truth class, predicted class], the last column for answers outside the classes (or none)."""
    matrix = np.zeros((len(t.classes), len(t.classes) + 1), dtype=int)
    np.add.at(matrix, (t.truth, np.where(t.pred < 0, len(t.classes), t.pred)), 1)
    return matrix
