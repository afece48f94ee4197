"""Whether the service's confidences mean what they say: expected calibration error (ECE) over equal-width
bins, ECE = sum over bins of (items in bin / items) * |accuracy in bin - mean confidence in bin|, and the
per-bin numbers a reliability diagram draws. One point per predicted label with a known confidence: for the
single-label tasks the answer, for the multi-label ones each label named (correct when the truth has it)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from service.eval.items import Truth
from service.eval.predictions import Prediction

BINS = 10


@dataclass(frozen=True)
class Calibration:
    ece: float
    points: int
    edges: np.ndarray  # BINS + 1 bin edges over [0, 1]
    counts: np.ndarray  # points per bin
    accuracy: np.ndarray  # per bin (NaN when empty)
    confidence: np.ndarray  # mean confidence per bin (NaN when empty)


def confidence_points(pairs: list[tuple[Truth, Prediction]]) -> tuple[np.ndarray, np.ndarray]:
    """(confidence, correct) for every predicted label whose confidence the answer gives."""
    confidences, correct = [], []
    for truth, prediction in pairs:
        named = prediction.labels[:1] if not isinstance(truth, dict) else prediction.labels
        for label in named:
            if label in prediction.confidences:
                confidences.append(prediction.confidences[label])
                correct.append(bool(truth.get(label)) if isinstance(truth, dict) else label == truth)
    return np.array(confidences, dtype=float), np.array(correct, dtype=bool)


def calibration(confidences: np.ndarray, correct: np.ndarray, bins: int = BINS) -> Calibration:
    edges = np.linspace(0.0, 1.0, bins + 1)
    # Bins are (lo, hi]; a confidence of exactly 0 goes to the first.
    which = np.clip(np.searchsorted(edges, confidences, side="left") - 1, 0, bins - 1)
    counts = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = np.bincount(which, weights=correct, minlength=bins) / counts
        confidence = np.bincount(which, weights=confidences, minlength=bins) / counts
    gaps = np.where(counts > 0, np.abs(np.nan_to_num(accuracy) - np.nan_to_num(confidence)), 0.0)
    ece = float((counts * gaps).sum() / counts.sum()) if counts.sum() else float("nan")
    return Calibration(ece, int(counts.sum()), edges, counts, accuracy, confidence)


def threshold_table(confidences: np.ndarray, correct: np.ndarray,
                    thresholds: tuple[float, ...] = (0.0, 0.3, 0.5, 0.7, 0.9)) -> list[tuple[float, float, float]]:
    """(threshold, share of labels kept, accuracy of those kept): what an `uncertain` threshold would trade."""
    rows = []
    for threshold in thresholds:
        kept = confidences >= threshold
        accuracy = float(correct[kept].mean()) if kept.any() else float("nan")
        rows.append((threshold, float(kept.mean()) if len(kept) else float("nan"), accuracy))
    return rows
