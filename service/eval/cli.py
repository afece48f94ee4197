"""`facellava eval --data D [--dataset NAME | --task T] --out DIR`: send a labelled data set through a running
service and score it with the paper's metrics, beside the paper's zero-shot numbers; `--compare A B` runs two
settings (e.g. `landmarks=on` `landmarks=off`) on the same items and reports paired differences with bootstrap
95 % intervals. Answers go to DIR/predictions-*.jsonl (a second run resumes), the report to DIR/report.md."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from service.batch.options import parse_options
from service.batch.records import read_records
from service.batch.service_args import add_service_arguments, run_service_batch
from service.eval import report
from service.eval.bootstrap import paired_differences
from service.eval.figures import confusion_figure, reliability_figure
from service.eval.items import EvalData
from service.eval.paper_metrics import SINGLE_LABEL, confusion, headline
from service.eval.readers import READERS
from service.eval.readers.manifest import read_manifest
from service.eval.scoring import SettingResult, paired_paths, score_setting
from service.tasks.registry import REGISTRY


def parser() -> argparse.ArgumentParser:
    layouts = "; ".join(f"{name} ({reader.task}): {reader.layout}" for name, reader in READERS.items())
    parser = argparse.ArgumentParser(prog="facellava eval", description=__doc__, epilog=f"Layouts: {layouts}.")
    parser.add_argument("--data", type=Path, required=True,
                        help="the data set's root folder, or a manifest (.jsonl or .csv with path and label)")
    parser.add_argument("--dataset", choices=sorted(READERS), help="the layout of --data (omit for a manifest)")
    parser.add_argument("--task", choices=REGISTRY.names, help="the task a manifest is labelled for")
    parser.add_argument("--split", help="which split or fold to score (default: each layout's test split)")
    parser.add_argument("--limit", type=int, help="score N items spread evenly over the data set")
    parser.add_argument("-o", "--out", type=Path, required=True, help="folder for answers, report and pictures")
    parser.add_argument("--options", default="", help="/analyze options for every request, key=value,...")
    parser.add_argument("--compare", nargs=2, metavar=("A", "B"),
                        help="two option sets to compare on the same items, e.g. landmarks=on landmarks=off")
    parser.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples (default 2000)")
    add_service_arguments(parser)
    return parser


def read_data(args: argparse.Namespace) -> EvalData:
    if args.dataset:
        reader = READERS[args.dataset]
        if args.task and args.task != reader.task:
            raise ValueError(f"{args.dataset} is labelled for {reader.task}, not {args.task}")
        return reader.read(args.data, args.split)
    if not args.task or not args.data.is_file():
        raise ValueError("give --dataset for a data set folder, or --task with a manifest file")
    return read_manifest(args.data, args.task)


def answers_file(out: Path, task: str, options: str) -> Path:
    """One JSONL per task and option set, named after them, so a re-run with another task or other options
    never resumes from answers to a different question."""
    return out / f"predictions-{re.sub(r'[^A-Za-z0-9.]+', '-', f'{task},{options}').strip('-')}.jsonl"


def _settings(args: argparse.Namespace) -> list[tuple[str, str]]:
    if not args.compare:
        return [("run", args.options)]
    pairs = zip("AB", args.compare, strict=True)
    return [(name, ",".join(filter(None, (args.options, extra)))) for name, extra in pairs]


def eval_main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    try:
        data = read_data(args)
        fields = {name: parse_options(options + ",max_faces=1", [data.task]) for name, options in _settings(args)}
    except (OSError, ValueError) as exc:  # OptionError is a ValueError
        print(f"facellava eval: {exc}", file=sys.stderr)
        return 2
    data.subsample(args.limit)
    if not data.items:
        print(f"facellava eval: no usable items ({len(data.problems)} problems, e.g. "
              f"{data.problems[:1]})", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    settings = []
    for name, options in _settings(args):
        answers = answers_file(args.out, data.task, options)
        summary = run_service_batch(args, [item.path for item in data.items], fields[name], answers, name)
        print(f"{name}: {summary.describe()}", file=sys.stderr)
        settings.append(score_setting(name, options, data.items, read_records(answers), data.task))
    text = _report(args, data, settings)
    report.write(args.out, text)
    (args.out / "metrics.json").write_text(json.dumps(_metrics(data, settings), indent=1))
    print(text)
    return 0


def _report(args: argparse.Namespace, data: EvalData, settings: list[SettingResult]) -> str:
    calibrations, confusions = [], []
    for setting in settings:
        result = setting.calibration()
        picture = f"reliability-{setting.name}.png"
        if result.points:
            reliability_figure(result, f"{data.dataset} {data.task}, setting {setting.name}", args.out / picture)
        calibrations.append((result, picture))
        if data.task in SINGLE_LABEL and setting.answered:
            picture = f"confusion-{setting.name}.png"
            confusion_figure(confusion(setting.table(data)), data.classes, f"{data.dataset}, setting "
                             f"{setting.name}", args.out / picture)
            confusions.append(picture)
    comparison = None
    if len(settings) == 2:
        paths = paired_paths(*settings)
        tables = [s.table(data, paths) for s in settings]
        comparison = (paired_differences(*tables, resamples=args.resamples) if paths else [], len(paths))
    return report.render(data, str(args.data), settings, calibrations, confusions, comparison)


def _metrics(data: EvalData, settings: list[SettingResult]) -> dict[str, object]:
    """The headline numbers as JSON, for scripts that track them across runs."""
    return {
        "dataset": data.dataset,
        "task": data.task,
        "items": len(data.items),
        "settings": {s.name: {"options": s.options, "answered": len(s.answered), "failures": dict(s.failures),
                              **headline(s.table(data)), "ece": s.calibration().ece} for s in settings},
    }
