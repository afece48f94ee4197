"""A generic manifest for any data set: JSONL lines `{"path": ..., "label": ...}` (or `"labels": [...]` /
`{"AU12": 1, ...}` for the multi-label tasks; `label` a number for age), or a CSV with a `path` and a `label`
column. Relative paths are read from the manifest's folder. Missing files and unknown labels are reported and
skipped; for the multi-label tasks a label a line does not name is absent; unreadable media stays in and is
reported by the service's refusal."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from common.tasks import CELEBA_ATTRIBUTES, TaskName
from service.batch.inputs import resolve
from service.eval import labels
from service.eval.items import EvalData, EvalItem, Truth
from service.eval.labels import EXPRESSIONS


def _rows(manifest: Path) -> list[dict[str, Any]]:
    if manifest.suffix.lower() == ".csv":
        with manifest.open(newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))
    rows = []
    for line in manifest.read_text(encoding="utf-8").splitlines():
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                rows.append({})
    return rows


def _multi(value: Any, normalise: Any) -> dict[str, bool] | None:
    """A list of present labels, a comma-separated string, or a {label: 0/1} mapping."""
    if isinstance(value, dict):
        pairs = [(normalise(k), bool(int(v))) for k, v in value.items()]
    else:
        names = value.split(",") if isinstance(value, str) else value if isinstance(value, list) else None
        if names is None:
            return None
        pairs = [(normalise(name), True) for name in names if str(name).strip()]
    return None if any(name is None for name, _ in pairs) else dict(pairs)


def truth_of(task: TaskName, value: Any) -> Truth | None:
    """The ground truth in the service's vocabulary, or None when the value is not a label of the task."""
    if value is None:
        return None
    if task == "age":
        try:
            return float(value)
        except (TypeError, ValueError):
            return None
    if task == "expression":
        return labels.expression(str(value))
    if task == "deepfake":
        return labels.deepfake(str(value))
    return _multi(value, labels.attribute if task == "attributes" else labels.action_unit)


def read_manifest(manifest: Path, task: TaskName) -> EvalData:
    data = EvalData(task, "manifest", ())
    for number, row in enumerate(_rows(manifest), 1):
        value = row.get("labels", row.get("label"))
        truth = truth_of(task, value)
        if not row.get("path"):
            data.problems.append(f"line {number}: no path")
        elif truth is None:
            data.problems.append(f"line {number}: unknown {task} label {value!r}")
        elif not (path := resolve(manifest.parent, str(row["path"]))).is_file():
            data.problems.append(f"line {number}: missing file {row['path']}")
        else:
            data.items.append(EvalItem(path, truth))
    data.classes = _classes(task, data.items)
    if task in ("attributes", "action_units"):  # a label the manifest does not name is absent
        data.items = [EvalItem(i.path, {c: bool(i.truth.get(c)) for c in data.classes}) for i in data.items]
    return data


def _classes(task: TaskName, items: list[EvalItem]) -> tuple[str, ...]:
    """Expression: the 7 DFEW classes, plus MAFW's if any truth uses them; attributes: all 40; AUs: every
    unit the manifest names (a list names only present units, so the set comes from the whole manifest)."""
    if task == "expression":
        used = {item.truth for item in items}
        return tuple(label for label in EXPRESSIONS if label in used or EXPRESSIONS.index(label) < 7)
    if task == "deepfake":
        return ("real", "fake")
    if task == "attributes":
        return CELEBA_ATTRIBUTES
    if task == "action_units":
        named = {au for item in items if isinstance(item.truth, dict) for au in item.truth}
        return tuple(sorted(named, key=lambda au: int(au[2:])))
    return ()
