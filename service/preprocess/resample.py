"""Square patches cut out of a picture at another scale, without aliasing.

A plain affine warp samples the picture once per output pixel: shrinking 4x keeps one pixel in 16 and with it the
full strength of film grain and sensor noise, which is what makes old and grainy photos unreadable to FaceMesh
(its confirmation score falls under the threshold, landmarks.py). Averaging the source down by a whole factor
first (cv2.INTER_AREA) and warping only the remainder gives the model what a smaller photo would have shown it.
"""

from __future__ import annotations

import cv2
import numpy as np


def square_patch(rgb: np.ndarray, cx: float, cy: float, side: float, size: int) -> np.ndarray:
    """The square of `side` pixels centred on (cx, cy), as a size x size picture (black outside the picture).
    Patch pixel = (image pixel - centre) * size / side + size / 2, whatever the route taken."""
    scale = size / side
    factor = int(1 / scale)
    source, x0, y0 = rgb, 0, 0
    if factor >= 2:
        height, width = rgb.shape[:2]
        x0, y0 = max(int(cx - side), 0), max(int(cy - side), 0)
        x1, y1 = min(int(cx + side) + 1, width), min(int(cy + side) + 1, height)
        rows, cols = (y1 - y0) // factor * factor, (x1 - x0) // factor * factor
        if rows > 0 and cols > 0:
            source = cv2.resize(rgb[y0: y0 + rows, x0: x0 + cols], (cols // factor, rows // factor),
                                interpolation=cv2.INTER_AREA)
        else:
            factor, x0, y0 = 1, 0, 0
    else:
        factor = 1
    # Source pixel u holds image pixels x0 + u * factor ... + factor - 1, centred on x0 + (u + 0.5) * factor - 0.5.
    step = scale * factor
    shift_x = scale * (x0 + 0.5 * factor - 0.5 - cx) + size / 2
    shift_y = scale * (y0 + 0.5 * factor - 0.5 - cy) + size / 2
    to_patch = np.array([[step, 0, shift_x], [0, step, shift_y]], dtype=np.float64)
    return cv2.warpAffine(source, to_patch, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=(0, 0, 0))
