"""Dev-only: how far our 68 landmarks are from dlib's 68-point model run from dlib's own HOG detector box, on
pictures made from the astronaut, as a fraction of the inter-ocular distance (NME, outer eye corners 36-45 of
dlib's points). Our landmarks come from the backend FACELLAVA_PREPROCESS_LANDMARKS selects (settings.py): run it
with "mesh" to measure the FaceMesh table; "dlib", the default, measures how much the seed box changes dlib's
answer. Ground-truth error is bench/preprocess_landmarks.py's job. Run from the repo root:
    .venv/gateway/bin/python -m bench.preprocess_dlib_agreement
Faces are matched by box overlap; dlib's own HOG detector gives its boxes, so the two sides are independent.
"""

from __future__ import annotations

import sys

import cv2
import numpy as np

from devkit.media import astronaut, encode_image
from service.preprocess.geometry import iou
from service.preprocess.pipeline import preprocess
from service.preprocess.types import PreprocessOptions

REGIONS = {"jaw": range(0, 17), "brows": range(17, 27), "nose": range(27, 36), "eyes": range(36, 48),
           "mouth": range(48, 68), "inner 17-67": range(17, 68), "all 68": range(0, 68)}


def pictures() -> dict[str, np.ndarray]:
    base = astronaut()
    tile = cv2.resize(base, (320, 320))
    rotate = {angle: cv2.warpAffine(base, cv2.getRotationMatrix2D((256, 256), angle, 1.0), (512, 512))
              for angle in (-12, 12)}
    return {
        "astronaut": base,
        "mirrored": np.ascontiguousarray(base[:, ::-1]),
        "rotated -12": rotate[-12],
        "rotated +12": rotate[12],
        "half size": cv2.resize(base, (256, 256), interpolation=cv2.INTER_AREA),
        "double size": cv2.resize(base, (1024, 1024)),
        "2x2 grid": np.ascontiguousarray(np.vstack([np.hstack([tile, tile[:, ::-1]]),
                                                    np.hstack([tile[:, ::-1], tile])])),
    }


def main() -> None:
    try:
        import dlib
        import face_recognition_models
    except ImportError:
        print("dlib / face_recognition_models are not importable: see requirements/gateway.txt", file=sys.stderr)
        sys.exit(1)
    hog = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(face_recognition_models.pose_predictor_model_location())
    errors: list[np.ndarray] = []
    for name, rgb in pictures().items():
        ours = preprocess(encode_image(rgb, "PNG"), PreprocessOptions()).faces
        rects = hog(rgb, 1)
        matched = 0
        for rect in rects:
            box = (rect.left(), rect.top(), rect.right(), rect.bottom())
            face = max(ours, key=lambda f: iou(f.box, box), default=None)
            if face is None or iou(face.box, box) < 0.3:
                continue
            theirs = np.array([[p.x, p.y] for p in predictor(rgb, rect).parts()], dtype=np.float32)
            iod = np.linalg.norm(theirs[36] - theirs[45])
            errors.append(np.linalg.norm(face.landmarks - theirs, axis=1) / iod)
            matched += 1
        print(f"{name:12s}: ours {len(ours)} face(s), dlib HOG {len(rects)}, compared {matched}")
    table = np.stack(errors)
    print(f"NME against dlib's 68-point model over {len(table)} faces (fraction of inter-ocular distance):")
    for region, points in REGIONS.items():
        print(f"  {region:12s} {table[:, list(points)].mean():.3f}")


if __name__ == "__main__":
    main()
