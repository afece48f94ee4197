"""Recall on hard faces and false faces on face-free pictures, through preprocess(), per kind of picture.

Faces: real photos from installed packages (devkit/hard_faces.py: 16 people in 9 photos, among them an
old press photo, a grey cameraman, two three-quarter profiles, a six-person group), each clean, as an old grainy
black-and-white print, turned 30 and -45 degrees, and shrunk to 0.4 in a picture of the same size. A face counts as
found when a returned box holds its centre. Face-free: 25 pictures (textures, objects, a cat, text, a colour wheel,
medical images, face masks), clean and as grainy prints, plus a mosaic of LFW's face-free patches.

usage (from the repository root, gateway environment): python -m bench.preprocess_recall
"""

from __future__ import annotations

import statistics
import time
from collections import defaultdict

import numpy as np

from devkit.hard_faces import face_free_pictures, face_pictures
from devkit.package_photos import as_png
from service.preprocess.geometry import centre, holds
from service.preprocess.pipeline import preprocess
from service.preprocess.types import Face, PreprocessOptions

OPTIONS = PreprocessOptions(max_faces=10, min_face_px=12)


def faces_in(rgb: np.ndarray, seconds: list[float] | None = None) -> list[Face]:
    """The faces preprocess() finds in the picture sent as a PNG; the time it took is added to `seconds`."""
    data = as_png(rgb)
    start = time.perf_counter()
    faces = preprocess(data, OPTIONS).faces
    if seconds is not None:
        seconds.append(time.perf_counter() - start)
    return faces


def clean_centres(rgb: np.ndarray) -> np.ndarray:
    return np.array([centre(face.box) for face in faces_in(rgb)]).reshape(-1, 2)


def main() -> None:
    found: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # kind -> found, faces, false faces
    seconds: list[float] = []
    for picture in face_pictures(clean_centres):
        faces = faces_in(picture.rgb, seconds)
        kind = picture.name.split(" ", 1)[1]
        hits = sum(any(holds(f.box, c) for f in faces) for c in picture.centres)
        false = sum(not any(holds(f.box, c) for c in picture.centres) for f in faces)
        found[kind][0] += hits
        found[kind][1] += len(picture.centres)
        found[kind][2] += false
        if hits < len(picture.centres) or false:
            print(f"  {picture.name}: {hits}/{len(picture.centres)} found, {false} false")
    free_faces = 0
    for picture in face_free_pictures():
        faces = faces_in(picture.rgb, seconds)
        free_faces += len(faces)
        if faces:
            print(f"  {picture.name}: {len(faces)} false faces")
    print("| picture kind | faces found | false faces |")
    print("|---|---|---|")
    for kind, (hits, total, false) in found.items():
        print(f"| {kind} | {hits}/{total} | {false} |")
    total_hits = sum(v[0] for v in found.values())
    total = sum(v[1] for v in found.values())
    print(f"| all | {total_hits}/{total} ({100 * total_hits / total:.0f} %) | {sum(v[2] for v in found.values())} |")
    print(f"face-free pictures: {len(face_free_pictures())}, false faces: {free_faces}")
    print(f"preprocess() time per picture (decode included): median {1000 * statistics.median(seconds):.0f} ms, "
          f"max {1000 * max(seconds):.0f} ms")


if __name__ == "__main__":
    main()
