"""Face boxes from MediaPipe's BlazeFace models (shipped inside the mediapipe 0.10.21 wheel).

Both models run on every picture: the full-range model finds small and distant faces; the short-range model is
the one the official Face-LLaVA crop tool used, so where both see a face its box (and so the crop the model
was trained on) comes from the short-range model. A face only one model sees is kept either way, which also
makes the short-range model the fallback the issue asks for.
On a still image (`thorough=True`) the full-range model also runs on four overlapping tiles, 0.6 of the
picture each way: on whole pictures of several small faces it misses some (3 of 4 on a 2 x 2 grid of the
astronaut) that it finds in a tile, which it sees 1.7x larger. Tiles are skipped when every face found is
already large (a quarter of the picture's shorter side or more: a portrait, where they cannot help) and on
video frames, where the tracker fills a face missed in one frame from its neighbours.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import mediapipe as mp
import numpy as np

from service.preprocess.geometry import Box, clamp_box, iou, short_side

_MAX_DETECT_SIDE = 1920  # BlazeFace sees 128 or 192 px; larger inputs only cost copying
_SAME_FACE_IOU = 0.3
_TILE = 0.6  # tile side as a fraction of the picture's; tiles overlap by 0.2 so a face is whole in one
_LARGE_FACE = 0.25  # of the shorter side: faces this large leave no room for missed small ones worth tiling


@dataclass(frozen=True)
class Detection:
    box: Box  # x0, y0, x1, y1 in image pixels
    score: float


class FaceDetector:
    def __init__(self) -> None:
        solutions = mp.solutions.face_detection
        self._full = solutions.FaceDetection(model_selection=1, min_detection_confidence=0.5)
        self._short = solutions.FaceDetection(model_selection=0, min_detection_confidence=0.5)

    def close(self) -> None:
        self._full.close()
        self._short.close()

    def detect(self, rgb: np.ndarray, thorough: bool = False) -> list[Detection]:
        """All faces, best score first, in pixels of `rgb`."""
        small = _shrink(rgb)
        scale = rgb.shape[1] / small.shape[1]
        found = self._run(self._short, small) + self._run(self._full, small)
        if thorough and not _all_large(found, small):
            found += self._tiles(small)
        merged: list[Detection] = []
        for candidate in found:  # short-range boxes come first, so they win a tie with the same face
            overlaps = [iou(candidate.box, kept.box) for kept in merged]
            best = int(np.argmax(overlaps)) if overlaps else -1
            if best >= 0 and overlaps[best] >= _SAME_FACE_IOU:
                merged[best] = Detection(merged[best].box, max(merged[best].score, candidate.score))
            else:
                merged.append(candidate)
        height, width = rgb.shape[:2]
        return sorted((Detection(clamp_box(tuple(v * scale for v in d.box), width, height), d.score)
                       for d in merged), key=lambda d: d.score, reverse=True)

    def _tiles(self, rgb: np.ndarray) -> list[Detection]:
        height, width = rgb.shape[:2]
        tile_w, tile_h = round(width * _TILE), round(height * _TILE)
        found = []
        for y in (0, height - tile_h):
            for x in (0, width - tile_w):
                for d in self._run(self._full, np.ascontiguousarray(rgb[y: y + tile_h, x: x + tile_w])):
                    found.append(Detection((d.box[0] + x, d.box[1] + y, d.box[2] + x, d.box[3] + y), d.score))
        return found

    @staticmethod
    def _run(model: object, rgb: np.ndarray) -> list[Detection]:
        height, width = rgb.shape[:2]
        found = []
        for detection in model.process(rgb).detections or []:
            rel = detection.location_data.relative_bounding_box
            box = clamp_box((rel.xmin * width, rel.ymin * height, (rel.xmin + rel.width) * width,
                             (rel.ymin + rel.height) * height), width, height)
            if short_side(box) >= 1:
                found.append(Detection(box, float(detection.score[0])))
        return found


def _all_large(found: list[Detection], rgb: np.ndarray) -> bool:
    limit = _LARGE_FACE * min(rgb.shape[:2])
    return bool(found) and all(short_side(d.box) >= limit for d in found)


def _shrink(rgb: np.ndarray) -> np.ndarray:
    height, width = rgb.shape[:2]
    scale = _MAX_DETECT_SIDE / max(height, width)
    if scale >= 1:
        return np.ascontiguousarray(rgb)
    return cv2.resize(rgb, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
