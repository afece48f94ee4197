"""DFEW, MAFW and RAF-DB: one expression per clip or image, in each data set's own label numbering.

- DFEW: `EmoLabel_DataSplit/test(single-labeled)/set_N.csv`, rows `video_name,label` (label 1-7: happy, sad,
  neutral, angry, surprise, disgust, fear); clips named by the zero-padded number (`00025.mp4`).
- MAFW: the single-expression split `.../set_N/test.txt`, lines `clip label` with the label a word or its
  number 1-11 (anger, disgust, fear, happiness, neutral, sadness, surprise, contempt, anxiety, helplessness,
  disappointment).
- RAF-DB: `EmoLabel/list_patition_label.txt`, lines `test_0001.jpg 4` (1-7: surprise, fear, disgust, happiness,
  sadness, anger, neutral); images in `Image/original/` or `Image/aligned/` (`test_0001_aligned.jpg`).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from pathlib import Path

from common.tasks import EXPRESSION_LABELS
from service.batch.inputs import VIDEO_SUFFIXES
from service.eval import labels
from service.eval.items import EvalData, EvalItem
from service.eval.readers.media_index import MediaIndex, find_files

DFEW_CLASSES = EXPRESSION_LABELS  # DFEW's numbering 1-7 is this order
MAFW_CLASSES = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise",
                "contempt", "anxiety", "helplessness", "disappointment")
RAFDB_CLASSES = ("surprise", "fear", "disgust", "happy", "sad", "angry", "neutral")


def _label(text: str, numbering: tuple[str, ...]) -> str | None:
    """A number in the data set's 1-based numbering, or a spelled-out expression."""
    text = text.strip()
    if text.isdigit():
        return numbering[int(text) - 1] if 1 <= int(text) <= len(numbering) else None
    return labels.expression(text)


def _one_split_file(root: Path, pattern: str, prefer: str) -> Path:
    found = find_files(root, pattern)
    preferred = [path for path in found if prefer in str(path)]
    if not (preferred or found):
        raise FileNotFoundError(f"no {pattern} under {root}")
    return (preferred or found)[0]


def _build(data: EvalData, rows: list[tuple[str, str]], numbering: tuple[str, ...], index: MediaIndex,
           names: Callable[[str], tuple[str, ...]]) -> EvalData:
    for number, (name, text) in enumerate(rows, 1):
        label = _label(text, numbering)
        path = index.find(*names(name))
        if label is None:
            data.problems.append(f"line {number}: unknown label {text!r} for {name}")
        elif path is None:
            data.problems.append(f"line {number}: no media file for {name}")
        else:
            data.items.append(EvalItem(path, label))
    return data


def _padded(name: str) -> tuple[str, ...]:
    base = Path(name.strip()).name
    return (base, base.zfill(5)) if base.isdigit() else (base,)


def read_dfew(root: Path, split: str | None) -> EvalData:
    split_file = _one_split_file(root, f"set_{split or 1}.csv", "test(single")
    with split_file.open(newline="", encoding="utf-8") as handle:
        rows = [(row[0], row[1]) for row in csv.reader(handle) if len(row) >= 2 and row[1].strip().isdigit()]
    return _build(EvalData("expression", "dfew", DFEW_CLASSES), rows, DFEW_CLASSES, MediaIndex(root, VIDEO_SUFFIXES),
                  _padded)


def read_mafw(root: Path, split: str | None) -> EvalData:
    split_file = _one_split_file(root, f"set_{split or 1}/test.txt", "single")
    rows = []
    for line in split_file.read_text(encoding="utf-8").splitlines():
        parts = re.split(r"[\s,]+", line.strip())
        if len(parts) >= 2:
            rows.append((parts[0], parts[1]))
    return _build(EvalData("expression", "mafw", MAFW_CLASSES), rows, MAFW_CLASSES, MediaIndex(root, VIDEO_SUFFIXES),
                  _padded)


def read_rafdb(root: Path, split: str | None) -> EvalData:
    split = split or "test"
    rows = []
    for line in _one_split_file(root, "list_patition_label.txt", "EmoLabel").read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2 and (split == "all" or parts[0].startswith(split)):
            rows.append((parts[0], parts[1]))

    def names(name: str) -> tuple[str, ...]:
        base = Path(name).stem
        return (base, f"{base}_aligned")

    return _build(EvalData("expression", "rafdb", RAFDB_CLASSES), rows, RAFDB_CLASSES, MediaIndex(root), names)
