"""Pictures people check the detector with: boxes, scores and the 68 points drawn on the image, or on a 2 x 4
sheet of the clip's 8 sampled video frames with the faces detected there, labelled with their track numbers."""

from __future__ import annotations

import cv2
import numpy as np

from service.preprocess.types import Face, ImageResult, VideoResult

_DETECTED = (0, 220, 0)
_INTERPOLATED = (255, 150, 0)
_POINT = (255, 40, 40)
_SHEET_COLUMNS = 4


def draw_result(result: ImageResult | VideoResult, pictures: list[np.ndarray]) -> np.ndarray:
    """An RGB uint8 picture; `pictures` are the decoded image or the 8 sampled frames the result came from."""
    if isinstance(result, ImageResult):
        return _draw_faces(pictures[0], [(face, f"{face.score:.2f}") for face in result.faces])
    track_of = {id(face): track.id for track in result.tracks for face in track.faces}
    panels = []
    for frame, picture in zip(result.frames, pictures, strict=True):
        labelled = [(face, f"#{track_of[id(face)]}" if id(face) in track_of else f"{face.score:.2f}")
                    for face in frame.faces]
        panel = _draw_faces(picture, labelled)
        cv2.putText(panel, f"frame {frame.index}  {frame.time:.2f} s", (8, 24), cv2.FONT_HERSHEY_SIMPLEX,
                    _font_scale(panel), (255, 255, 255), 2, cv2.LINE_AA)
        panels.append(panel)
    rows = [np.hstack(panels[i: i + _SHEET_COLUMNS]) for i in range(0, len(panels), _SHEET_COLUMNS)]
    return np.vstack(rows)


def _draw_faces(picture: np.ndarray, faces: list[tuple[Face, str]]) -> np.ndarray:
    canvas = picture.copy()
    thickness = max(1, round(max(canvas.shape[:2]) / 400))
    for face, label in faces:
        x0, y0, x1, y1 = (round(v) for v in face.box)
        colour = _INTERPOLATED if face.interpolated else _DETECTED
        cv2.rectangle(canvas, (x0, y0), (x1, y1), colour, thickness, cv2.LINE_AA)
        cv2.putText(canvas, label, (x0, max(y0 - 4, 12)), cv2.FONT_HERSHEY_SIMPLEX, _font_scale(canvas),
                    colour, thickness, cv2.LINE_AA)
        for x, y in face.landmarks:
            cv2.circle(canvas, (round(float(x)), round(float(y))), thickness + 1, _POINT, -1, cv2.LINE_AA)
    return canvas


def _font_scale(canvas: np.ndarray) -> float:
    return max(0.4, max(canvas.shape[:2]) / 1000)
