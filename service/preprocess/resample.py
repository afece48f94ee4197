"""Square patches cut out of a picture at another scale, without aliasing.

A plain affine warp samples the picture once per output pixel: shrinking 4x keeps one pixel in 16 and with it the
full strength of film grain and sensor noise, which is what makes old and grainy photos unreadable to FaceMesh
(its confirmation score falls under the threshold, landmarks.py). Averaging the source down by a whole factor
first (cv2.INTER_AREA) and warping only the remainder gives the model what a smaller photo would have shown it.
"""

from __future__ import annotations

import cv2
import numpy as np


def _turn(degrees: float) -> np.ndarray:
    """The 2 x 2 part of cv2.getRotationMatrix2D: turns a picture `degrees` counter-clockwise as displayed."""
    rad = np.radians(degrees)
    return np.array([[np.cos(rad), np.sin(rad)], [-np.sin(rad), np.cos(rad)]])


def square_patch(rgb: np.ndarray, cx: float, cy: float, side: float, size: int, degrees: float = 0.0
                 ) -> np.ndarray:
    """The square of `side` pixels centred on (cx, cy), turned `degrees` counter-clockwise, as a size x size
    picture (black outside the picture): patch pixel = turn (image pixel - centre) * size / side + size / 2."""
    scale = size / side
    factor = int(1 / scale)
    source, origin = rgb, np.zeros(2)
    if factor >= 2:
        height, width = rgb.shape[:2]
        reach = side * 0.75  # covers the turned square's corners (half-diagonal 0.71 side)
        x0, y0 = max(int(cx - reach), 0), max(int(cy - reach), 0)
        x1, y1 = min(int(cx + reach) + 1, width), min(int(cy + reach) + 1, height)
        rows, cols = (y1 - y0) // factor * factor, (x1 - x0) // factor * factor
        if rows > 0 and cols > 0:
            source = cv2.resize(rgb[y0: y0 + rows, x0: x0 + cols], (cols // factor, rows // factor),
                                interpolation=cv2.INTER_AREA)
            # Source pixel u covers image pixels x0 + u * factor ... + factor - 1: centred on x0 + (u + 0.5) f - 0.5.
            origin = np.array([x0, y0]) + 0.5 * factor - 0.5
        else:
            factor = 1
    else:
        factor = 1
    linear = scale * _turn(degrees)
    to_patch = np.hstack([linear * factor, (linear @ (origin - (cx, cy)) + size / 2)[:, None]])
    return cv2.warpAffine(source, to_patch, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=(0, 0, 0))


def to_patch(points: np.ndarray, cx: float, cy: float, side: float, size: int, degrees: float = 0.0
             ) -> np.ndarray:
    """Image pixels to patch pixels of square_patch."""
    forward = _turn(degrees) * (size / side)
    return ((points - (cx, cy)) @ forward.T + size / 2).astype(np.float32)


def from_patch(points: np.ndarray, cx: float, cy: float, side: float, size: int, degrees: float = 0.0
               ) -> np.ndarray:
    """Patch pixels of square_patch back to image pixels."""
    back = _turn(degrees).T * (side / size)
    return ((points - size / 2) @ back.T + (cx, cy)).astype(np.float32)
