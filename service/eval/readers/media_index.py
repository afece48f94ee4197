"""Finding a data set's media by name: labels files name clips and frames by id (`00025`, `train_00001.jpg`),
while users unpack the media in various folders. One scan of the root, then lookups by stem."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

from service.batch.inputs import MEDIA_SUFFIXES, is_media


class MediaIndex:
    """`suffixes` narrows the search: a clip data set often sits beside its extracted frames (`00025.mp4` and
    `00025/00001.jpg`), whose names must not be taken for clips, nor a frame data set's videos for frames."""

    def __init__(self, root: Path, suffixes: frozenset[str] = MEDIA_SUFFIXES) -> None:
        self.files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in suffixes)
        self._by_stem: dict[str, list[Path]] = defaultdict(list)
        for path in self.files:
            self._by_stem[stem(path)].append(path)

    def find(self, *names: str) -> Path | None:
        """The first media file whose stem matches one of the names, in the order given (case-insensitive)."""
        for name in names:
            found = self._by_stem.get(stem(Path(name)))
            if found:
                return found[0]
        return None


def stem(path: Path) -> str:
    """`000001.jpg` -> `000001`; `12_0_1_2017.jpg.chip.jpg` -> `12_0_1_2017` (every media suffix removed)."""
    name = path.name.lower()
    while is_media(Path(name)):
        name = name.rsplit(".", 1)[0]
    return name


def frame_number(path: Path) -> int | None:
    """The frame number in a frame image's name (`0042.jpg`, `frame_42.png`): its last run of digits."""
    digits = re.findall(r"\d+", stem(path))
    return int(digits[-1]) if digits else None


def find_files(root: Path, pattern: str) -> list[Path]:
    return sorted(p for p in root.rglob(pattern) if p.is_file())
