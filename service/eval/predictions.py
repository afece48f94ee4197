"""What the service answered for one item, read from a batch record (the /analyze JSON): the first face's
result for the task (the data sets hold one subject per item; the gateway ranks faces by detector score, and a
video's tracks by presence), and the confidence that goes with the label.

Today's responses carry `label_confidences`; responses that also carry per-class `scores` (a probability for
every label of the vocabulary) are used for calibration when present."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from common.tasks import TaskName


@dataclass(frozen=True)
class Prediction:
    labels: tuple[str, ...]  # in the response's order; the first is the answer of a single-label task
    value: float | None = None  # age
    confidences: dict[str, float] = field(default_factory=dict)  # label -> probability, where known

    @property
    def label(self) -> str | None:
        return self.labels[0] if self.labels else None


def _probabilities(mapping: Any) -> dict[str, float]:
    if not isinstance(mapping, dict):
        return {}
    return {str(k): float(v) for k, v in mapping.items() if isinstance(v, int | float) and 0 <= v <= 1}


def prediction_of(record: dict[str, Any], task: TaskName) -> Prediction | None:
    """None when the request failed or the task is missing from the answer (reported as a failure)."""
    faces = (record.get("response") or {}).get("faces") or []
    result = faces[0].get("tasks", {}).get(task) if faces else None
    if not record.get("ok") or not isinstance(result, dict):
        return None
    labels = tuple(str(label) for label in result.get("labels") or ())
    confidences = _probabilities(result.get("label_confidences"))
    scores = _probabilities(result.get("scores"))
    confidences.update({label: scores[label] for label in labels if label in scores})
    if len(labels) == 1 and labels[0] not in confidences and isinstance(result.get("confidence"), int | float):
        confidences[labels[0]] = float(result["confidence"])
    value = result.get("value")
    return Prediction(labels, float(value) if isinstance(value, int | float) else None, confidences)
