"""68 iBUG-300W landmarks from MediaPipe FaceMesh, through the fitted mesh -> iBUG table in data/.

FaceMesh runs once per face on a square 1.6x the detector box, centred on it and resized to 256 px: FaceMesh's
own pipeline expects that much context, and the official crop (box top-left, no margin) cuts into the jaw.
The points come back in image pixels; the crop's pixels are then an exact affine map of them (crop.py), so one
mesh run serves the official crop, the margin crop, and interpolated video frames alike.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Protocol

import mediapipe as mp
import numpy as np

from service.preprocess.geometry import Box
from service.preprocess.native_logs import harmless_native_logs_dropped, started_quietly
from service.preprocess.resample import from_patch, square_patch

NUM_LANDMARKS = 68
_CONTEXT = 1.6
_MESH_INPUT = 256
# FaceMesh first re-detects the face on the 256 px patch, centred and at the size the short-range detector sees
# best: that score separates faces from the detector's false boxes far better than the first detection's. Measured
# (scratch script over the package photos of devkit/package_photos.py): real faces 0.71-0.95 (old
# black-and-white photos lowest), false boxes on face-free pictures (a colour wheel, a star field, the astronaut's
# suit at 4096 px) 0.52-0.59.
_CONFIRM_SCORE = 0.65


def load_mesh_to_ibug68() -> list[list[int]]:
    """For each iBUG point, the mesh vertices whose mean it is (see data/mediapipe-mesh-to-ibug68.json)."""
    text = resources.files("service.preprocess").joinpath("data/mediapipe-mesh-to-ibug68.json").read_text()
    mapping = json.loads(text)["mapping"]
    if len(mapping) != NUM_LANDMARKS:
        raise ValueError(f"the mesh table has {len(mapping)} rows, not {NUM_LANDMARKS}")
    return mapping


class Landmarker(Protocol):
    def landmarks(self, rgb: np.ndarray, box: Box, degrees: float = 0.0) -> np.ndarray | None: ...

    def close(self) -> None: ...


def build_landmarker(backend: str) -> Landmarker:
    """The backend named by the `landmarks` setting (settings.py); dlib is imported only when asked for."""
    if backend.startswith("dlib"):
        from service.preprocess.dlib_landmarks import REFINEMENTS, DlibLandmarker

        return DlibLandmarker(REFINEMENTS[backend])
    return MeshLandmarker()


class MeshLandmarker:
    def __init__(self) -> None:
        self._mesh = started_quietly(lambda: mp.solutions.face_mesh.FaceMesh(
            static_image_mode=True, max_num_faces=1, refine_landmarks=True, min_detection_confidence=_CONFIRM_SCORE))
        mapping = load_mesh_to_ibug68()
        # Averaging as a matrix product: row i holds 1/len for each vertex of iBUG point i.
        self._average = np.zeros((NUM_LANDMARKS, 478), dtype=np.float32)
        for row, vertices in enumerate(mapping):
            self._average[row, vertices] = 1.0 / len(vertices)

    def close(self) -> None:
        self._mesh.close()

    def landmarks(self, rgb: np.ndarray, box: Box, degrees: float = 0.0) -> np.ndarray | None:
        """[68, 2] float32 image pixels, or None when FaceMesh sees no face there (a false detection). `degrees`:
        the turn that makes the face upright (a face found in a turned copy of the picture, detect.py)."""
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        side = _CONTEXT * max(box[2] - box[0], box[3] - box[1])
        patch = square_patch(rgb, cx, cy, side, _MESH_INPUT, degrees)
        with harmless_native_logs_dropped():
            result = self._mesh.process(patch)
        if not result.multi_face_landmarks:
            return None
        mesh = np.array([(p.x, p.y) for p in result.multi_face_landmarks[0].landmark], dtype=np.float32)
        points = (self._average[:, : len(mesh)] @ mesh) * _MESH_INPUT
        image_points = from_patch(points, cx, cy, side, _MESH_INPUT, degrees)
        nose_x, nose_y = image_points[30]
        if not (box[0] <= nose_x <= box[2] and box[1] <= nose_y <= box[3]):
            return None  # FaceMesh locked onto a neighbouring face, not this one
        return image_points.astype(np.float32)
