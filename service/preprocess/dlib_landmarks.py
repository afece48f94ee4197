"""68 iBUG-300W landmarks from dlib's 68-point shape predictor, seeded by FaceMesh (the "dlib" landmark backend).

Against hand-labelled iBUG-68 photos (bench/preprocess_landmarks.py) dlib's predictor, which was trained on
iBUG 300-W itself, follows the labellers' conventions (the jaw contour on turned faces, the brows) far better
than any fixed table from FaceMesh's 478 vertices. But it only works from the kind of box it was trained with,
dlib's HOG detector box: from a BlazeFace box it is 0.2 of the eye distance off on turned faces. So the box is
made from 68 points already known: FaceMesh's through the table (in "dlib-ensemble" then also the predictor's
own first answer, a second pass moving the box to where dlib's detector would have put it). The box is the points'
centroid moved by (a, b) times their RMS radius, with side k times it, (a, b, k) fitted on dlib's own detector
boxes and its answers on them (bench/preprocess_dlib_box_fit.py, data/dlib-box-from-68.json).

FaceMesh still runs first: it confirms a detection is a face (see landmarks.py), and it gives the seed. (Its plain
model instead of the attention one would save a few ms, but confirms fewer grainy faces: recall 76 vs 80 of 96 in
bench/preprocess_recall.py.)
Licences: dlib (dlib-bin wheel) is Boost; the predictor model (face_recognition_models) is marked CC0 by its
package, but was trained on iBUG 300-W, whose terms exclude commercial use. The backend is a setting
(settings.py) for that reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources

import cv2
import dlib
import face_recognition_models
import numpy as np

from service.preprocess.geometry import Box
from service.preprocess.landmarks import MeshLandmarker
from service.preprocess.resample import from_patch, square_patch, to_patch

_REGION = 2.0  # half-side of the region handed to dlib, in face extents: the seed box is ~1.3 of them wide
# iBUG-68 point i of a face is point _MIRROR[i] of the mirrored face (jaw, brows, nose wings, eyes, lips reversed).
_MIRROR = np.array([*range(16, -1, -1), *range(26, 16, -1), 27, 28, 29, 30, *range(35, 30, -1),
                    45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40, *range(54, 47, -1), *range(59, 54, -1),
                    *range(64, 59, -1), 67, 66, 65])
_EYES = slice(36, 48)


@dataclass(frozen=True)
class Refinement:
    """How the predictor is run. Its answer moves with its box (its cascade starts from its mean shape placed in
    the box), so it is run on the face and on the mirrored face, each from boxes of each scale in `scales`, and
    the answers averaged: their box-dependent errors partly cancel. `passes` > 1 seeds each pass's boxes from the
    previous pass's answer. Each run costs about 1-2 ms (bench/preprocess_landmarks.py prints the error and time
    of each backend)."""

    passes: int
    scales: tuple[float, ...]


REFINEMENTS = {
    "dlib": Refinement(passes=1, scales=(1.0,)),  # 2 predictor runs per face
    "dlib-ensemble": Refinement(passes=2, scales=(0.9, 1.0, 1.1)),  # 12 predictor runs per face
}


class DlibLandmarker:
    def __init__(self, refinement: Refinement) -> None:
        self._refinement = refinement
        self._mesh = MeshLandmarker()
        self._predictor = dlib.shape_predictor(face_recognition_models.pose_predictor_model_location())
        text = resources.files("service.preprocess").joinpath("data/dlib-box-from-68.json").read_text()
        fit = json.loads(text)
        self._offset = np.array([fit["a"], fit["b"]], dtype=np.float64)
        self._side = float(fit["k"])

    def close(self) -> None:
        self._mesh.close()

    def landmarks(self, rgb: np.ndarray, box: Box, degrees: float = 0.0) -> np.ndarray | None:
        """[68, 2] float32 image pixels, or None when FaceMesh does not confirm a face in `box`."""
        points = self._mesh.landmarks(rgb, box, degrees)
        if points is None:
            return None
        # dlib converts whatever it is given to grey on every call: it gets the face's neighbourhood, once, in grey;
        # a face found turned (detect.py) is turned upright, as dlib's predictor was trained on upright faces.
        # Upright faces are cut, not resampled: interpolation blurs small faces (0.061 -> 0.077 on Einstein).
        region, centre = _grey_around(rgb, points, degrees)
        side = region.shape[0]
        mesh = to_patch(points, *centre, side, side, degrees)
        mirrored = _mirrored(self._refined(np.ascontiguousarray(region[:, ::-1]), _mirrored(mesh, side)), side)
        points = (self._refined(region, mesh) + mirrored) / 2
        # FaceMesh's eye points (its iris-refined eye model) are as close to the labels as dlib's, with errors of
        # their own: the mean of the two beats either (eyes 0.028 dlib, 0.023 mesh, 0.021 both).
        points[_EYES] = (points[_EYES] + mesh[_EYES]) / 2
        return from_patch(points, *centre, side, side, degrees)

    def _refined(self, grey: np.ndarray, points: np.ndarray) -> np.ndarray:
        """The predictor's mean answer from seed boxes of each scale made from `points`, once per pass."""
        for _ in range(self._refinement.passes):
            answers = [self._predictor(grey, self._seed_box(points, scale)).parts()
                       for scale in self._refinement.scales]
            points = np.array([[(p.x, p.y) for p in parts] for parts in answers], dtype=np.float32).mean(axis=0)
        return points

    def _seed_box(self, points: np.ndarray, scale: float) -> dlib.rectangle:
        """Where dlib's HOG detector would put its box for a face with these 68 points, `scale` times as wide."""
        centroid = points.astype(np.float64).mean(axis=0)
        radius = float(np.sqrt(((points - centroid) ** 2).sum(axis=1).mean()))
        cx, cy = centroid + self._offset * radius
        half = scale * self._side * radius / 2
        return dlib.rectangle(round(cx - half), round(cy - half), round(cx + half), round(cy + half))


def _mirrored(points: np.ndarray, side: int) -> np.ndarray:
    """68 points of a face in a `side`-wide picture as the points of the left-right mirrored picture."""
    flipped = points[_MIRROR].copy()
    flipped[:, 0] = side - 1 - flipped[:, 0]
    return flipped


def _grey_around(rgb: np.ndarray, points: np.ndarray, degrees: float) -> tuple[np.ndarray, tuple[float, float]]:
    """The grey square within twice the points' extent of a whole-pixel centre near theirs, turned `degrees`
    (resample.square_patch's geometry), and that centre."""
    low, high = points.min(axis=0), points.max(axis=0)
    side = 2 * int(_REGION * (high - low).max())  # even: the cut below starts at a whole pixel
    centre = (float(round((low[0] + high[0]) / 2)), float(round((low[1] + high[1]) / 2)))
    if degrees:
        patch = square_patch(rgb, *centre, side, side, degrees)
    else:  # the same square, cut out whole-pixel aligned (padded with black where it leaves the picture)
        half = side // 2
        x0, y0 = int(centre[0]) - half, int(centre[1]) - half
        height, width = rgb.shape[:2]
        patch = np.zeros((side, side, 3), dtype=np.uint8)
        sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x0 + side, width), min(y0 + side, height)
        if sx1 > sx0 and sy1 > sy0:
            patch[sy0 - y0: sy1 - y0, sx0 - x0: sx1 - x0] = rgb[sy0:sy1, sx0:sx1]
    return cv2.cvtColor(patch, cv2.COLOR_RGB2GRAY), centre
