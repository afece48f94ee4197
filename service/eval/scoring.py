"""One setting's results on a data set: the items the service answered paired with their truth, the failures
by error code, the metric table and the calibration. Comparisons pair two settings on the items both
answered."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from common.tasks import TaskName
from service.eval.calibration import Calibration, calibration, confidence_points
from service.eval.items import EvalData, EvalItem, Truth
from service.eval.paper_metrics import Table, table
from service.eval.predictions import Prediction, prediction_of


@dataclass
class SettingResult:
    name: str  # "A", "B" or "default"
    options: str  # the /analyze options, as the user wrote them
    answered: dict[str, tuple[Truth, Prediction]] = field(default_factory=dict)  # path -> pair
    failures: Counter[str] = field(default_factory=Counter)  # error code -> items
    service: dict[str, Any] = field(default_factory=dict)  # model name/revision, landmarks_conditioned

    def table(self, data: EvalData, paths: list[str] | None = None) -> Table:
        keys = list(self.answered) if paths is None else paths
        return table(data.task, data.classes, [self.answered[key] for key in keys])

    def calibration(self) -> Calibration:
        return calibration(*confidence_points(list(self.answered.values())))


def score_setting(name: str, options: str, items: list[EvalItem], records: dict[str, dict[str, Any]],
                  task: TaskName) -> SettingResult:
    result = SettingResult(name, options)
    for item in items:
        record = records.get(str(item.path))
        if record is None:
            result.failures["not_sent"] += 1
            continue
        prediction = prediction_of(record, task)
        if prediction is None:
            result.failures[(record.get("error") or {}).get("code", "task_missing")] += 1
            continue
        result.answered[str(item.path)] = (item.truth, prediction)
        if not result.service:
            response = record["response"]
            model = response.get("model") or {}
            result.service = {"model": f"{model.get('name')} (revision {model.get('revision')})",
                              "landmarks_conditioned": response.get("landmarks_conditioned")}
    return result


def paired_paths(a: SettingResult, b: SettingResult) -> list[str]:
    return [path for path in a.answered if path in b.answered]
