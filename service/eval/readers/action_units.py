"""DISFA and BP4D: AU occurrence per video frame; each labelled frame whose image is found is one item.

- DISFA: `ActionUnit_Labels/SN001/SN001_au1.txt`, lines `frame,intensity` (0-5); an AU occurs at intensity
  >= 2, the usual occurrence protocol. Frame images are the user's extraction: any image under a folder whose
  path names the subject (`SN001`), numbered by frame (`0001.png`, `frame_1.jpg`, ...).
- BP4D: `AUCoding/AU_OCC/F001_T1.csv`, a header row (`Frame`, then AU numbers) and one row per frame with 1
  (present), 0 (absent) or 9 (not coded: left out); images under `.../F001/T1/` numbered by frame.

Only the AUs the paper scores on each data set are read (common.tasks.DISFA_AUS / BP4D_AUS).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from common.tasks import BP4D_AUS, DISFA_AUS
from service.batch.inputs import IMAGE_SUFFIXES
from service.eval.items import EvalData, EvalItem
from service.eval.labels import au_names
from service.eval.readers.media_index import MediaIndex, find_files, frame_number

DISFA_PRESENT_FROM = 2  # intensity A (1) is a trace; occurrence is B (2) and above


def _frames(root: Path, pattern: re.Pattern[str]) -> dict[tuple[str, ...], Path]:
    """(ids found in the path by `pattern`'s groups..., frame) -> image."""
    frames = {}
    for path in MediaIndex(root, IMAGE_SUFFIXES).files:  # the source videos are not frames
        match = pattern.search(str(path.relative_to(root)).upper())
        number = frame_number(path)
        if match and number is not None:
            frames.setdefault((*match.groups(), str(number)), path)
    return frames


def _items(data: EvalData, annotations: dict[tuple[str, ...], dict[str, bool]],
           frames: dict[tuple[str, ...], Path]) -> EvalData:
    missing = [key for key in annotations if key not in frames]
    data.items = [EvalItem(frames[key], truth) for key, truth in annotations.items() if key in frames]
    if missing:
        data.problems.append(f"{len(missing)} labelled frames have no image, e.g. {'/'.join(missing[0])}")
    return data


def read_disfa(root: Path, split: str | None) -> EvalData:
    annotations: dict[tuple[str, ...], dict[str, bool]] = {}
    data = EvalData("action_units", "disfa", au_names(DISFA_AUS))
    for label_file in find_files(root, "*_au*.txt"):
        match = re.fullmatch(r"(SN\d+)_au(\d+)", label_file.stem, re.IGNORECASE)
        if not match or int(match.group(2)) not in DISFA_AUS:
            continue
        subject, au = match.group(1).upper(), f"AU{int(match.group(2))}"
        for number, line in enumerate(label_file.read_text().splitlines(), 1):
            parts = line.replace(",", " ").split()
            if len(parts) == 2 and parts[0].isdigit() and parts[1].isdigit():
                annotations.setdefault((subject, str(int(parts[0]))), {})[au] = int(parts[1]) >= DISFA_PRESENT_FROM
            elif line.strip():
                data.problems.append(f"{label_file.name} line {number}: expected frame,intensity")
    if not annotations:
        raise FileNotFoundError(f"no DISFA label files (SNxxx_auN.txt) under {root}")
    return _items(data, annotations, _frames(root, re.compile(r"(SN\d+)")))


def read_bp4d(root: Path, split: str | None) -> EvalData:
    annotations: dict[tuple[str, ...], dict[str, bool]] = {}
    data = EvalData("action_units", "bp4d", au_names(BP4D_AUS))
    for label_file in find_files(root, "*.csv"):
        match = re.fullmatch(r"([FM]\d+)_(T\d+)", label_file.stem, re.IGNORECASE)
        if not match:
            continue
        with label_file.open(newline="") as handle:
            header, *rows = list(csv.reader(handle))
        columns = {i: f"AU{int(h)}" for i, h in enumerate(header) if i and h.strip().isdigit()
                   and int(h) in BP4D_AUS}
        for row in rows:
            if not row or not row[0].strip().isdigit():
                continue
            truth = {au: row[i].strip() == "1" for i, au in columns.items() if row[i].strip() in ("0", "1")}
            if truth:
                annotations[(match.group(1).upper(), match.group(2).upper(), str(int(row[0])))] = truth
    if not annotations:
        raise FileNotFoundError(f"no BP4D occurrence files (Fxxx_Tn.csv) under {root}")
    return _items(data, annotations, _frames(root, re.compile(r"([FM]\d{3}).*?(T\d+)")))
