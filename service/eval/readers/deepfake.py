"""FaceForensics++: videos under `original_sequences/` are real, under `manipulated_sequences/<method>/` fake
(any compression folder; the `masks/` videos are skipped). When `splits/<split>.json` exists (pairs of source
ids such as ["953", "974"]), only that split is kept: originals `953.mp4`, `974.mp4` and manipulations
`953_974.mp4`, `974_953.mp4`."""

from __future__ import annotations

import json
from pathlib import Path

from service.batch.inputs import VIDEO_SUFFIXES
from service.eval.items import EvalData, EvalItem
from service.eval.readers.media_index import MediaIndex, find_files, stem


def _split_ids(root: Path, split: str) -> set[str] | None:
    """The stems a split keeps, or None for every video."""
    files = [] if split == "all" else find_files(root, f"{split}.json")
    if not files:
        return None
    pairs = json.loads(files[0].read_text())
    return {name for a, b in pairs for name in (a, b, f"{a}_{b}", f"{b}_{a}")}


def read_ffpp(root: Path, split: str | None) -> EvalData:
    keep = _split_ids(root, split or "test")
    data = EvalData("deepfake", "ffpp", ("real", "fake"))
    for path in MediaIndex(root, VIDEO_SUFFIXES).files:
        parts = path.relative_to(root).parts
        if "masks" in parts:  # the manipulation masks shipped beside each method's videos are not samples
            continue
        label = "real" if "original_sequences" in parts else "fake" if "manipulated_sequences" in parts else None
        if label is None:
            data.problems.append(f"{path.relative_to(root)}: neither under original_ nor manipulated_sequences")
        elif keep is None or stem(path) in keep:
            data.items.append(EvalItem(path, label))
    return data
