"""256 x 256 face crops and the map from image pixels to crop pixels.

"official" reproduces the crop Face-LLaVA was trained on (ihp-lab/Face-LLaVA tools/crop_face.py, margin 0):
integer box, a square of side (w + h) / 2 from the box's top-left corner, its far edges clamped to width - 1 /
height - 1 as that tool does, resized with cv2.resize (bilinear) to 256 x 256. Near an image border the
clamped region is not square and the resize stretches it, as in training.
"margin" is a square centred on the box, `margin` of the box size larger on each side, padded with black where
it leaves the image, so the face is never stretched or off-centre.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from service.preprocess.geometry import Box
from service.preprocess.types import CROP_SIZE


@dataclass(frozen=True)
class CropMap:
    """crop pixel = (image pixel - origin) * scale, per axis."""

    origin_x: float
    origin_y: float
    scale_x: float
    scale_y: float

    def apply(self, points: np.ndarray) -> np.ndarray:
        origin = np.array([self.origin_x, self.origin_y], dtype=np.float32)
        scale = np.array([self.scale_x, self.scale_y], dtype=np.float32)
        return ((points - origin) * scale).astype(np.float32)


def crop_face(rgb: np.ndarray, box: Box, style: Literal["official", "margin"], margin: float
              ) -> tuple[np.ndarray, CropMap]:
    if style == "official":
        return official_crop(rgb, box)
    return margin_crop(rgb, box, margin)


def official_crop(rgb: np.ndarray, box: Box) -> tuple[np.ndarray, CropMap]:
    height, width = rgb.shape[:2]
    x, y = int(box[0]), int(box[1])
    side = (int(box[2] - box[0]) + int(box[3] - box[1])) / 2
    x1 = max(int(min(x + side, width - 1)), x + 1)
    y1 = max(int(min(y + side, height - 1)), y + 1)
    region = rgb[y:y1, x:x1]
    crop = cv2.resize(region, (CROP_SIZE, CROP_SIZE), interpolation=cv2.INTER_LINEAR)
    return crop, CropMap(x, y, CROP_SIZE / region.shape[1], CROP_SIZE / region.shape[0])


def margin_crop(rgb: np.ndarray, box: Box, margin: float) -> tuple[np.ndarray, CropMap]:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    side = max(box[2] - box[0], box[3] - box[1]) * (1 + 2 * margin)
    scale = CROP_SIZE / side
    x0, y0 = cx - side / 2, cy - side / 2
    affine = np.array([[scale, 0, -x0 * scale], [0, scale, -y0 * scale]], dtype=np.float64)
    crop = cv2.warpAffine(rgb, affine, (CROP_SIZE, CROP_SIZE), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
    return crop, CropMap(x0, y0, scale, scale)
