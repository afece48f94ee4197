"""Face boxes from MediaPipe's BlazeFace models (shipped inside the mediapipe 0.10.21 wheel).

Both models run on every video frame: the full-range model finds small and distant faces; the short-range model
is the one the official Face-LLaVA crop tool used, so where both see a face its box (and so the crop the model
was trained on) comes from the short-range model. A face only one model sees is kept either way, which also
makes the short-range model the fallback the issue asks for.
On a still image the full-range model's pass over the whole picture is skipped once the short-range model has
found a face: its tiles (below) see every face it would, larger. It saves a sixth of a portrait's preprocessing
time (about 4 ms of 45 on the astronaut; the landmark budget of bench/preprocess_landmarks.py). Measured by a scratch
script over 614 photos (300-W's test photos and the hard-face set of bench/preprocess_recall.py): 2 faces were
found by that pass alone, both beside a face the short-range model had found, neither a labelled one; recall on
the hard-face set, AFW's group photos and every labelled face of 300-W's test photos is unchanged.
On a still image (`thorough=True`) the full-range model also runs on overlapping tiles, which it sees larger:
four tiles of 0.6 of the picture each way, and on pictures of 600 px or more (short side) nine of 0.4. On whole
pictures of several small faces it misses some that it finds in a tile (3 of 4 on a 2 x 2 grid of the
astronaut; one of the six people of insightface's t1.jpg is found only in a 0.4 tile). Smaller pictures skip the
finer level: their faces of a useful size (24 px and up) are already found in 0.6 tiles, and the nine extra runs
would double the detection time of a portrait. Video frames skip tiles: the tracker fills a face missed in one
frame from its neighbours. Tiles see faces again and cut some at their edges; dedup.py keeps each face once.
A still image in which no face is confirmed (pipeline.py) is searched again turned 45 degrees each way: BlazeFace finds
faces up to about 30-45 degrees from upright, so a tilted head in a snapshot or a picture taken with the camera
turned is found on the second look (turned detections carry their angle, and FaceMesh is run on the face turned
upright, landmarks.py). Only empty pictures pay for it, and the FaceMesh confirmation keeps it from adding false
faces (bench/preprocess_recall.py: none on 51 face-free pictures).
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import mediapipe as mp
import numpy as np

from service.preprocess.dedup import Detection, merge_duplicates
from service.preprocess.geometry import clamp_box, short_side
from service.preprocess.native_logs import harmless_native_logs_dropped, started_quietly

_MAX_DETECT_SIDE = 1920  # BlazeFace sees 128 or 192 px; larger inputs only cost copying
# (tile side as a fraction of the picture's, tiles per row, smallest picture side it runs on): 2 tiles of 0.6
# overlap by 0.2 and 3 of 0.4 by 0.1 of the picture, so a face the level is for is whole in one of its tiles.
_TILE_LEVELS = ((0.6, 2, 0), (0.4, 3, 600))
# Where a face under 6 % of the picture's shorter side was found, a crowd of small faces is likely, and the
# 0.4 tiles see the smallest of them at under 20 px, where the full-range model misses some: 16 tiles of 0.3 then.
_CROWD_FACE = 0.06
_CROWD_LEVEL = (0.3, 4)
_EDGE = 1.0  # px: a box this close to a tile edge inside the picture was cut by it
_RETRY_TURNS = (45.0, -45.0)  # degrees counter-clockwise, tried when nothing is found upright


class FaceDetector:
    def __init__(self) -> None:
        solutions = mp.solutions.face_detection
        self._full = started_quietly(lambda: solutions.FaceDetection(model_selection=1, min_detection_confidence=0.5))
        self._short = started_quietly(lambda: solutions.FaceDetection(model_selection=0,
                                                                      min_detection_confidence=0.5))

    def close(self) -> None:
        self._full.close()
        self._short.close()

    def detect(self, rgb: np.ndarray, thorough: bool = False) -> list[Detection]:
        """All faces, best score first, in pixels of `rgb`."""
        return self._in_pixels_of(rgb, lambda small: self._views(small, thorough))

    def detect_turned(self, rgb: np.ndarray) -> list[Detection]:
        """Faces found in the picture turned 45 degrees each way, for a picture with none upright."""
        def turned_views(small: np.ndarray) -> list[Detection]:
            found = []
            for degrees in _RETRY_TURNS:
                turned, to_turned = _turned(small, degrees)
                found += [_turned_back(d, to_turned) for d in self._views(turned, thorough=True)]
            return found
        return self._in_pixels_of(rgb, turned_views)

    @staticmethod
    def _in_pixels_of(rgb: np.ndarray, search: Callable[[np.ndarray], list[Detection]]) -> list[Detection]:
        """`search` run on the picture shrunk to the detection size; its detections, merged, in `rgb`'s pixels."""
        small = _shrink(rgb)
        scale = rgb.shape[1] / small.shape[1]
        height, width = rgb.shape[:2]
        return [Detection(clamp_box(tuple(v * scale for v in d.box), width, height), d.score, degrees=d.degrees)
                for d in merge_duplicates(search(small))]

    def _views(self, rgb: np.ndarray, thorough: bool) -> list[Detection]:
        """Detections of both models on the whole picture and, when thorough, of the full-range one on tiles.
        Short-range boxes come first, so theirs is the box kept for a face both models see (dedup.py)."""
        found = self._run(self._short, rgb)
        if not (thorough and found):
            found += self._run(self._full, rgb)
        if thorough:
            for fraction, count, min_side in _TILE_LEVELS:
                if min(rgb.shape[:2]) >= min_side:
                    found += self._tiles(rgb, fraction, count)
            if _small_faces_seen(found, rgb):
                found += self._tiles(rgb, *_CROWD_LEVEL)
        return found

    def _tiles(self, rgb: np.ndarray, fraction: float, count: int) -> list[Detection]:
        height, width = rgb.shape[:2]
        tile_w, tile_h = round(width * fraction), round(height * fraction)
        found = []
        for y in np.linspace(0, height - tile_h, count).round().astype(int).tolist():
            for x in np.linspace(0, width - tile_w, count).round().astype(int).tolist():
                for d in self._run(self._full, np.ascontiguousarray(rgb[y: y + tile_h, x: x + tile_w])):
                    box = (d.box[0] + x, d.box[1] + y, d.box[2] + x, d.box[3] + y)
                    found.append(Detection(box, d.score, _cut_by_tile(box, (x, y, x + tile_w, y + tile_h),
                                                                       width, height)))
        return found

    @staticmethod
    def _run(model: object, rgb: np.ndarray) -> list[Detection]:
        height, width = rgb.shape[:2]
        found = []
        with harmless_native_logs_dropped():
            detections = model.process(rgb).detections or []
        for detection in detections:
            rel = detection.location_data.relative_bounding_box
            box = clamp_box((rel.xmin * width, rel.ymin * height, (rel.xmin + rel.width) * width,
                             (rel.ymin + rel.height) * height), width, height)
            if short_side(box) >= 1:
                found.append(Detection(box, float(detection.score[0])))
        return found


def _small_faces_seen(found: list[Detection], rgb: np.ndarray) -> bool:
    limit = _CROWD_FACE * min(rgb.shape[:2])
    return any(short_side(d.box) < limit for d in found)


def _turned(rgb: np.ndarray, degrees: float) -> tuple[np.ndarray, np.ndarray]:
    """The picture turned about its centre on a canvas that keeps every corner, and the 2 x 3 map into it."""
    height, width = rgb.shape[:2]
    turn = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    cos, sin = abs(turn[0, 0]), abs(turn[0, 1])
    new_w, new_h = int(height * sin + width * cos), int(height * cos + width * sin)
    turn[:, 2] += (new_w / 2 - width / 2, new_h / 2 - height / 2)
    return cv2.warpAffine(rgb, turn, (new_w, new_h), flags=cv2.INTER_LINEAR), turn


def _turned_back(detection: Detection, to_turned: np.ndarray) -> Detection:
    """A detection in the turned picture as one in the original: same centre and size, and the turn that makes
    the face upright."""
    x0, y0, x1, y1 = detection.box
    centre = np.linalg.solve(to_turned[:, :2], np.array([(x0 + x1) / 2, (y0 + y1) / 2]) - to_turned[:, 2])
    half_w, half_h = (x1 - x0) / 2, (y1 - y0) / 2
    degrees = float(np.degrees(np.arctan2(to_turned[0, 1], to_turned[0, 0])))
    return Detection((centre[0] - half_w, centre[1] - half_h, centre[0] + half_w, centre[1] + half_h),
                     detection.score, detection.clipped, degrees)


def _cut_by_tile(box: tuple[float, ...], tile: tuple[int, int, int, int], width: int, height: int) -> bool:
    """Whether the box touches an edge of the tile that lies inside the picture (the face goes on past it)."""
    x0, y0, x1, y1 = tile
    return ((x0 > 0 and box[0] <= x0 + _EDGE) or (y0 > 0 and box[1] <= y0 + _EDGE)
            or (x1 < width and box[2] >= x1 - _EDGE) or (y1 < height and box[3] >= y1 - _EDGE))


def _shrink(rgb: np.ndarray) -> np.ndarray:
    height, width = rgb.shape[:2]
    scale = _MAX_DETECT_SIDE / max(height, width)
    if scale >= 1:
        return np.ascontiguousarray(rgb)
    return cv2.resize(rgb, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
