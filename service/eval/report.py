"""The markdown report: our metrics beside the paper's zero-shot numbers, per-class numbers, failures by error
code, calibration, the confusion matrix and (with --compare) paired differences with 95 % intervals. Every
number is computed from the run's JSONL, so the report can be rebuilt without asking the service again."""

from __future__ import annotations

import math
from pathlib import Path

from service.eval.bootstrap import Difference
from service.eval.calibration import Calibration, confidence_points, threshold_table
from service.eval.items import EvalData
from service.eval.paper import PAPER_ZERO_SHOT
from service.eval.paper_metrics import SINGLE_LABEL, headline, per_class
from service.eval.scoring import SettingResult

PROBLEMS_SHOWN = 50


def number(value: float | None, digits: int = 3) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def _results_table(data: EvalData, settings: list[SettingResult]) -> list[str]:
    paper = PAPER_ZERO_SHOT.get(data.dataset, {})
    heads = [headline(s.table(data)) for s in settings]
    names = [f"{s.name} ({s.options or 'defaults'})" for s in settings]
    lines = ["| metric | " + " | ".join(names) + " | paper zero-shot |", "|---" * (len(settings) + 2) + "|"]
    for metric in heads[0]:
        ours = " | ".join(number(h[metric], 2 if metric == "mae" else 3) for h in heads)
        lines.append(f"| {metric.upper()} | {ours} | {number(paper.get(metric), 2 if metric == 'mae' else 3)} |")
    return lines


def _per_class_table(data: EvalData, settings: list[SettingResult]) -> list[str]:
    if data.task == "age":
        return []
    kind = {"action_units": "F1", "attributes": "accuracy"}.get(data.task, "recall")
    values = [per_class(s.table(data)) for s in settings]
    lines = [f"| class | {' | '.join(f'{kind} {s.name}' for s in settings)} |", "|---" * (len(settings) + 1) + "|"]
    for i, label in enumerate(data.classes):
        lines.append(f"| {label} | " + " | ".join(number(v[i]) for v in values) + " |")
    return lines


def _comparison(differences: list[Difference], paired: int) -> list[str]:
    if not paired:
        return ["No item was answered under both settings: nothing to compare (see each setting's failures)."]
    lines = [f"Paired bootstrap over the {paired} items both settings answered (95 % interval of B − A):", "",
             "| metric | A | B | B − A | 95 % interval | interval excludes 0 |", "|---|---|---|---|---|---|"]
    for d in differences:
        lines.append(f"| {d.metric.upper()} | {number(d.a)} | {number(d.b)} | {number(d.delta)} | "
                     f"[{number(d.low)}, {number(d.high)}] | {'yes' if d.significant else 'no'} |")
    return lines


def _calibration(setting: SettingResult, result: Calibration, picture: str) -> list[str]:
    if not result.points:
        return [f"{setting.name}: no answer carried a label confidence."]
    lines = [f"{setting.name}: ECE {number(result.ece)} over {result.points} predicted labels "
             f"({len(result.counts)} equal-width bins). ![reliability {setting.name}]({picture})", "",
             "| labels kept when confidence >= | share kept | accuracy of those kept |", "|---|---|---|"]
    points = confidence_points(list(setting.answered.values()))
    lines += [f"| {t:.1f} | {number(kept)} | {number(accuracy)} |" for t, kept, accuracy in threshold_table(*points)]
    return lines


def render(
    data: EvalData,
    source: str,
    settings: list[SettingResult],
    calibrations: list[tuple[Calibration, str]],
    confusion_pictures: list[str],
    comparison: tuple[list[Difference], int] | None,
) -> str:
    first = settings[0]
    lines = [f"# Face-LLaVA evaluation: {data.dataset}, task {data.task}", "",
             f"- data: {source}; {len(data.items)} items scored, {len(data.problems)} lines of the data set "
             "unusable (listed at the end)",
             f"- model: {first.service.get('model')}"]
    for s in settings:
        failed = ", ".join(f"{code} {n}" for code, n in s.failures.most_common()) or "none"
        lines.append(f"- setting {s.name} (`{s.options or 'defaults'}`): {len(s.answered)} answered; failed: "
                     f"{failed}; landmarks conditioned: {s.service.get('landmarks_conditioned')}")
    lines += ["", "## Results", "", *_results_table(data, settings), ""]
    if data.task == "age":
        missing = [sum(1 for _, p in s.answered.values() if p.value is None) for s in settings]
        lines += [f"Answers without an age (left out of the MAE): {', '.join(map(str, missing))}.", ""]
    if per := _per_class_table(data, settings):
        lines += ["## Per class", "", *per, ""]
    if comparison is not None:
        lines += ["## Comparison", "", *_comparison(*comparison), ""]
    lines += ["## Calibration", ""]
    for setting, (result, picture) in zip(settings, calibrations, strict=True):
        lines += [*_calibration(setting, result, picture), ""]
    if data.task in SINGLE_LABEL:
        lines += ["## Confusion matrix", "", *(f"![confusion {p}]({p})" for p in confusion_pictures), ""]
    if data.problems:
        lines += ["## Unusable lines in the data set", ""]
        lines += [f"- {problem}" for problem in data.problems[:PROBLEMS_SHOWN]]
        if len(data.problems) > PROBLEMS_SHOWN:
            lines.append(f"- ... and {len(data.problems) - PROBLEMS_SHOWN} more")
        lines.append("")
    return "\n".join(lines)


def write(out: Path, text: str) -> Path:
    path = out / "report.md"
    path.write_text(text, encoding="utf-8")
    return path
