"""CelebA: `list_attr_celeba.txt` (a count line, the 40 attribute names, then `000001.jpg 1 -1 ...`) and
`list_eval_partition.txt` (`000001.jpg 0|1|2` = train|val|test); images in `img_align_celeba/` or anywhere under
the root. Every item is scored on all 40 attributes (1 = present, -1 = absent)."""

from __future__ import annotations

from pathlib import Path

from common.tasks import CELEBA_ATTRIBUTES
from service.eval.items import EvalData, EvalItem
from service.eval.readers.media_index import MediaIndex, find_files

PARTITIONS = {"train": "0", "val": "1", "test": "2"}


def _partition(root: Path, split: str) -> dict[str, str] | None:
    """image name -> partition digit, or None when every image is wanted (or no partition file exists)."""
    files = find_files(root, "list_eval_partition.txt")
    if split == "all" or not files:
        return None
    return dict(line.split()[:2] for line in files[0].read_text().splitlines() if len(line.split()) >= 2)


def read_celeba(root: Path, split: str | None) -> EvalData:
    split = split or "test"
    if split != "all" and split not in PARTITIONS:
        raise ValueError(f"CelebA split must be one of {', '.join(PARTITIONS)}, all")
    (attr_file, *_) = find_files(root, "list_attr_celeba.txt") or [None]
    if attr_file is None:
        raise FileNotFoundError(f"no list_attr_celeba.txt under {root}")
    lines = attr_file.read_text().splitlines()
    names = lines[1].split()
    if sorted(names) != sorted(CELEBA_ATTRIBUTES):
        raise ValueError(f"{attr_file}: line 2 is not the 40 CelebA attribute names")
    partition = _partition(root, split)
    data = EvalData("attributes", "celeba", CELEBA_ATTRIBUTES)
    index = MediaIndex(root)
    for number, line in enumerate(lines[2:], 3):
        image, *values = line.split()
        if partition is not None and partition.get(image) != PARTITIONS[split]:
            continue
        path = index.find(image)
        if len(values) != len(names) or not set(values) <= {"1", "-1"}:
            data.problems.append(f"line {number}: expected 40 values of 1 or -1 for {image}")
        elif path is None:
            data.problems.append(f"line {number}: no image file for {image}")
        else:
            data.items.append(EvalItem(path, {n: v == "1" for n, v in zip(names, values, strict=True)}))
    return data
