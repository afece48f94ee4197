"""`facellava analyze PATH... --out results.jsonl`: every image and video under the paths through a running
service, N at a time, one JSON line per file (the API's response, or the error code), resumable."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from service.batch.inputs import collect_files
from service.batch.options import OptionError, parse_options
from service.batch.service_args import add_service_arguments, run_service_batch


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="facellava analyze", description=__doc__)
    parser.add_argument("paths", nargs="+", type=Path,
                        help="files, folders (searched recursively) or manifests (.txt/.lst: a path per line; "
                        ".jsonl: a `path` field)")
    parser.add_argument("-o", "--out", type=Path, required=True,
                        help="JSONL results; files already answered in it are skipped (resume)")
    parser.add_argument("--tasks", help="comma-separated tasks (default: every task that suits the media)")
    parser.add_argument("--options", default="",
                        help="other /analyze options as key=value,key=value, e.g. landmarks=off,reasoning=false")
    add_service_arguments(parser)
    return parser


def analyze_main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    try:
        fields = parse_options(args.options, args.tasks.split(",") if args.tasks else None)
    except OptionError as exc:
        print(f"facellava analyze: {exc}", file=sys.stderr)
        return 2
    paths = collect_files(args.paths)
    if not paths:
        print("facellava analyze: no media files under the given paths", file=sys.stderr)
        return 2
    summary = run_service_batch(args, paths, fields, args.out, "analyze")
    print(summary.describe(), file=sys.stderr)
    # Refusals of a file (no_face, corrupt_media...) are results; exit 1 only when a re-run has work left.
    return 1 if summary.unfinished else 0
