"""A second face detector for grainy pictures: dlib's CNN face detector (MMOD, `mmod_human_face_detector.dat`,
shipped in the face_recognition_models wheel the 68-point model comes from).

On old grainy black-and-white prints BlazeFace misses faces even after the grain is smoothed (denoise.py): on the
prints of bench/preprocess_recall.py it finds 21 of 32 faces, BlazeFace plus this detector 25 of 32 (the second
three-quarter profile of breakingbad and the sixth person of insightface's group as old prints, two more of the
group as a faded print), with no face found on the 25 grainy face-free pictures (each detection is still
confirmed by FaceMesh, pipeline.py). It costs about 9 us a pixel on a shared
2-core machine (2 s for a 512 px picture), so it runs only on pictures found grainy, shrunk to at most
`_MAX_SIDE` px (its 80 px window then still holds a 100 px face of a 1280 px group photo). dlib's author released
the model into the public domain; it was trained on public images he labelled himself.

Its boxes are tight and high on the face; the crops follow the short-range BlazeFace box the official crop tool
used, so a CNN box is moved to where that detector puts its box: on 40 LFPW test faces both find, the BlazeFace
box's centre is 0.04 (across) and 0.095 (down) CNN box widths from the CNN box's, and it is 1.09 times as wide
(medians; the offset across is head turn and left out). FaceMesh's confirmation of a faint face turns on the box
it is given, so each face also comes with two larger boxes (`_ALSO_TRIED`), tried when FaceMesh does not confirm
the first.
"""

from __future__ import annotations

import cv2
import dlib
import face_recognition_models
import numpy as np

from service.preprocess.dedup import Detection
from service.preprocess.geometry import clamp_box

_MAX_SIDE = 1024
_DOWN = 0.095  # BlazeFace box centre below the CNN box's, in CNN box widths
_WIDER = 1.09  # BlazeFace box side over the CNN box's width
_ALSO_TRIED = ((0.0, 1.3), (-0.1, 1.3))  # (centre below the CNN box's, side), in CNN box widths


class CnnFaceDetector:
    def __init__(self) -> None:
        self._cnn = dlib.cnn_face_detection_model_v1(face_recognition_models.cnn_face_detector_model_location())

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        """Faces, best first, each as a BlazeFace-like box then the boxes to try if FaceMesh does not confirm
        that one, in pixels of `rgb`; the score is the CNN's detection confidence clipped to [0, 1]."""
        height, width = rgb.shape[:2]
        scale = max(1.0, max(height, width) / _MAX_SIDE)
        small = (cv2.resize(rgb, (round(width / scale), round(height / scale)), interpolation=cv2.INTER_AREA)
                 if scale > 1 else np.ascontiguousarray(rgb))
        found = []
        for hit in self._cnn(small, 0):
            rect = hit.rect
            side = (rect.right() + 1 - rect.left()) * scale
            cx = (rect.left() + rect.right() + 1) / 2 * scale
            cy = (rect.top() + rect.bottom() + 1) / 2 * scale
            score = float(min(max(hit.confidence, 0.0), 1.0))
            found.append([Detection(clamp_box((cx - half, cy + down - half, cx + half, cy + down + half), width,
                                              height), score)
                          for down, half in ((_DOWN * side, _WIDER * side / 2),
                                             *((d * side, k * side / 2) for d, k in _ALSO_TRIED))])
        return [box for face in sorted(found, key=lambda tries: tries[0].score, reverse=True) for box in face]
