"""UTKFace and MORPH II keep the age in the file name:

- UTKFace: `AGE_GENDER_RACE_DATETIME.jpg` (the aligned set adds `.chip.jpg`), e.g. `26_1_0_20170116.jpg`.
- MORPH II (Album 2): `ID_NGAGE.JPG`, N the picture number, G `M` or `F`, e.g. `000123_1M42.JPG`.

Media whose name does not fit is reported, not guessed. `--split` is not used: both are scored whole (the
paper's own splits are not published)."""

from __future__ import annotations

import re
from pathlib import Path

from service.eval.items import EvalData, EvalItem
from service.eval.readers.media_index import MediaIndex

UTKFACE_NAME = re.compile(r"(\d{1,3})_[01]_\d_\d+")
MORPH_NAME = re.compile(r"\d+_\d+[MF](\d{1,3})")


def _read(root: Path, dataset: str, pattern: re.Pattern[str]) -> EvalData:
    data = EvalData("age", dataset, ())
    for path in MediaIndex(root).files:
        match = pattern.match(path.name)
        if match:
            data.items.append(EvalItem(path, float(match.group(1))))
        else:
            data.problems.append(f"{path.relative_to(root)}: no age in the file name")
    return data


def read_utkface(root: Path, split: str | None) -> EvalData:
    return _read(root, "utkface", UTKFACE_NAME)


def read_morph(root: Path, split: str | None) -> EvalData:
    return _read(root, "morph", MORPH_NAME)
